/**
 * The plugin wiring, activated against a minimal stand-in for the app (a
 * full JupyterLab cannot start in jest). Importing the plugin also proves
 * the jest ESM transform list covers every JupyterLab package it pulls in.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';
import type { Widget } from '@lumino/widgets';

import plugin, { CommandIDs } from '../index';
import { DEFAULT_REFRESH_INTERVAL } from '../cluster/monitor';
import { SIDEBAR_ID } from '../sidebar';
import schema from '../../schema/plugin.json';

describe('jupyter-ray-dev:plugin', () => {
  it('matches its settings schema', () => {
    expect(plugin.id).toBe('jupyter-ray-dev:plugin');
    expect(schema.properties.refreshInterval.default).toBe(
      DEFAULT_REFRESH_INTERVAL
    );
    expect(schema.properties.refreshInterval.minimum).toBe(1000);
  });

  it('adds the Ray sidebar and a command that opens it', async () => {
    const added: Array<{ widget: Widget; area: string; options: any }> = [];
    const commands = new Map<string, any>();
    const keyBindings: any[] = [];
    const shell = {
      add: (widget: Widget, area: string, options: any) =>
        added.push({ widget, area, options }),
      activateById: jest.fn()
    };
    const app = {
      shell,
      commands: {
        addCommand: (id: string, options: any) => commands.set(id, options),
        addKeyBinding: (binding: any) => keyBindings.push(binding),
        commandChanged: { connect: jest.fn(), disconnect: jest.fn() },
        label: (id: string) => commands.get(id)?.label ?? '',
        caption: () => '',
        icon: () => undefined,
        iconClass: () => '',
        className: () => '',
        isEnabled: () => true,
        isToggled: () => false,
        isVisible: () => true,
        hasCommand: (id: string) => commands.has(id)
      },
      contextMenu: { addItem: jest.fn() },
      docRegistry: { addWidgetExtension: jest.fn() },
      serviceManager: {
        serverSettings: ServerConnection.makeSettings({
          // Never reached: the sidebar is not attached, so the poll stands by.
          fetch: () => Promise.reject(new Error('no server in jest'))
        })
      }
    } as unknown as JupyterFrontEnd;
    const palette = { addItem: jest.fn() };

    await plugin.activate(app, null, null, palette, null);

    // The Ray sidebar, then the Storage panel (its own left panel, after it).
    expect(added).toHaveLength(2);
    const [{ widget, area, options }, storage] = added;
    expect(storage.widget.id).toBe('jupyter-ray-dev:storage');
    expect(storage.area).toBe('left');
    expect(storage.options.rank).toBeGreaterThan(options.rank);
    expect(commands.has('ray-dev:open-storage')).toBe(true);
    expect(widget.id).toBe(SIDEBAR_ID);
    expect(area).toBe('left');
    expect(options.rank).toBeGreaterThan(100);
    expect(widget.title.caption).toBe('Ray cluster');

    const command = commands.get(CommandIDs.openPanel);
    expect(command.label).toBe('Open Ray Panel');
    command.execute();
    expect(shell.activateById).toHaveBeenCalledWith(SIDEBAR_ID);
    expect(palette.addItem).toHaveBeenCalledWith({
      command: CommandIDs.openPanel,
      category: 'Ray',
      args: { isPalette: true }
    });
    // Jobs: a section in the sidebar, commands, menus and toolbar buttons.
    expect(widget.node.querySelector('.jp-RayDev-jobsPanel')).not.toBeNull();
    expect(commands.has('ray-dev:run-job')).toBe(true);
    expect(commands.has('ray-dev:open-job-logs')).toBe(true);
    const menuSelectors = (app.contextMenu.addItem as jest.Mock).mock.calls.map(
      call => call[0].selector
    );
    expect(menuSelectors).toEqual(
      expect.arrayContaining([
        '.jp-DirListing-item[data-file-type="python"]',
        '.jp-DirListing-item[data-file-type="notebook"]'
      ])
    );
    expect(
      (app.docRegistry.addWidgetExtension as jest.Mock).mock.calls.map(
        c => c[0]
      )
    ).toEqual(expect.arrayContaining(['Notebook', 'Editor']));
    // The runtime_env editor: opened from the palette, a folder's menu and the
    // panel's toolbar; Ctrl/Cmd+S saves it.
    expect(commands.has('ray-dev:edit-runtime-env')).toBe(true);
    expect(menuSelectors).toContain('.jp-DirListing-item[data-isdir="true"]');
    expect(keyBindings).toEqual([
      expect.objectContaining({
        command: 'ray-dev:save-runtime-env',
        keys: ['Accel S']
      })
    ]);
    expect(palette.addItem).toHaveBeenCalledWith({
      command: 'ray-dev:edit-runtime-env',
      category: 'Ray',
      args: { isPalette: true }
    });
    widget.dispose();
  });
});
