/**
 * The plugins, activated by Lumino's own `PluginRegistry` (which resolves
 * the tokens as JupyterLab does) against a minimal stand-in for the app: a
 * full JupyterLab cannot start in jest. Importing the plugins also proves the
 * jest ESM transform list covers every JupyterLab package they pull in.
 */
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PluginRegistry } from '@lumino/coreutils';
import type { Widget } from '@lumino/widgets';

import plugins, {
  CommandIDs,
  IRayDevAPI,
  IRayJobs,
  IRaySidebar
} from '../index';
import { RayDevAPI } from '../api';
import { job } from './jobs-fixtures';
import type { JobsPanel } from '../jobs/panel';
import { DEFAULT_REFRESH_INTERVAL } from '../cluster/monitor';
import { SIDEBAR_ID } from '../sidebar';
import schema from '../../schema/plugin.json';

function fakeApp() {
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
      hasCommand: (id: string) => commands.has(id),
      execute: jest.fn()
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
  return { app, shell, added, commands, keyBindings };
}

/** Register and start `list` (all of them by default) as JupyterLab would. */
async function start(
  app: JupyterFrontEnd,
  list: JupyterFrontEndPlugin<any>[] = plugins,
  extra: JupyterFrontEndPlugin<any>[] = []
): Promise<PluginRegistry<JupyterFrontEnd>> {
  const registry = new PluginRegistry<JupyterFrontEnd>();
  registry.application = app;
  registry.registerPlugins([...list, ...extra]);
  await registry.activatePlugins('startUp');
  return registry;
}

describe('jupyter-ray-dev plugins', () => {
  it('keeps the settings on the sidebar plugin', () => {
    const ids = plugins.map(p => p.id);
    expect(ids).toContain('jupyter-ray-dev:plugin');
    expect(new Set(ids).size).toBe(ids.length);
    expect(schema.properties.refreshInterval.default).toBe(
      DEFAULT_REFRESH_INTERVAL
    );
    expect(schema.properties.refreshInterval.minimum).toBe(1000);
  });

  it('activates every plugin and provides the tokens', async () => {
    const { app } = fakeApp();
    const registry = await start(app);
    for (const plugin of plugins) {
      expect(registry.isPluginActivated(plugin.id)).toBe(true);
    }
    expect(await registry.resolveRequiredService(IRayDevAPI)).toBeInstanceOf(
      RayDevAPI
    );
    const sidebar = await registry.resolveRequiredService(IRaySidebar);
    expect(sidebar.id).toBe(SIDEBAR_ID);
    const jobs = await registry.resolveRequiredService(IRayJobs);
    expect(jobs.model.state.loading).toBe(true);
    (sidebar as unknown as Widget).dispose();
  });

  it('gives the jobs and promote plugins the API through its token', async () => {
    const { app, added, commands } = fakeApp();
    const calls: string[] = [];
    const api = new RayDevAPI({
      serverSettings: app.serviceManager.serverSettings
    });
    api.rerunJob = async id => {
      calls.push(`rerunJob ${id}`);
      return { ...job({ submission_id: 'again' }), warnings: [] };
    };
    api.getPromotion = async id => {
      calls.push(`getPromotion ${id}`);
      throw new Error('stubbed');
    };
    // a site's own client replaces the extension's: the plugins use it
    const siteApi: JupyterFrontEndPlugin<IRayDevAPI> = {
      id: 'site:api',
      autoStart: true,
      provides: IRayDevAPI,
      activate: () => api
    };
    const ids = [
      'jupyter-ray-dev:plugin',
      'jupyter-ray-dev:jobs',
      'jupyter-ray-dev:promote'
    ];
    const registry = await start(
      app,
      plugins.filter(p => ids.includes(p.id)),
      [siteApi]
    );
    expect(await registry.resolveRequiredService(IRayDevAPI)).toBe(api);
    const sidebar = added[0].widget as unknown as {
      widgets: Widget[];
    } & Widget;
    // the sections in rank order, whatever order the plugins start in
    expect(sidebar.widgets.map(w => w.id).slice(0, 2)).toEqual([
      'jupyter-ray-dev:cluster',
      'jupyter-ray-dev:jobs'
    ]);
    expect(
      sidebar.node.querySelector('.jp-RayDev-promoteSection')
    ).not.toBeNull();

    const jobsSection = sidebar.widgets[1] as JobsPanel;
    await jobsSection.rerun(job({ submission_id: 'first' }));
    expect(app.commands.execute).toHaveBeenCalledWith('ray-dev:open-job-logs', {
      jobId: 'again'
    });

    const row = document.createElement('div');
    row.dataset.promotionId = 'p1';
    (app as any).contextMenuHitTest = () => row;
    await commands.get('ray-dev:promotion-download').execute();
    expect(calls).toEqual(['rerunJob first', 'getPromotion p1']);
    sidebar.dispose();
  });

  it('refuses to start jobs without the Ray sidebar', async () => {
    const { app } = fakeApp();
    const registry = new PluginRegistry<JupyterFrontEnd>();
    registry.application = app;
    registry.registerPlugins(
      plugins.filter(
        p => p.id === 'jupyter-ray-dev:jobs' || p.id === 'jupyter-ray-dev:api'
      )
    );
    await expect(
      registry.activatePlugin('jupyter-ray-dev:jobs')
    ).rejects.toThrow(/IRaySidebar/);
  });

  it('adds the Ray sidebar and a command that opens it', async () => {
    const { app, shell, added, commands, keyBindings } = fakeApp();
    const palette = { addItem: jest.fn() };
    const paletteProvider: JupyterFrontEndPlugin<ICommandPalette> = {
      id: 'test:palette',
      autoStart: true,
      provides: ICommandPalette,
      activate: () => palette as unknown as ICommandPalette
    };

    await start(app, plugins, [paletteProvider]);

    // The Ray sidebar, then the Storage panel (its own left panel, ranked after it;
    // the order plugins activate in is Lumino's).
    expect(added).toHaveLength(2);
    const { widget, area, options } = added.find(
      a => a.widget.id === SIDEBAR_ID
    )!;
    const storage = added.find(a => a.widget !== widget)!;
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
    // The Ray dashboard through the server: a Lab tab, or a browser tab.
    expect(commands.has('ray-dev:open-dashboard')).toBe(true);
    expect(commands.has('ray-dev:open-dashboard-in-browser')).toBe(true);
    expect(palette.addItem).toHaveBeenCalledWith({
      command: 'ray-dev:open-dashboard',
      category: 'Ray',
      args: { isPalette: true }
    });
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
    const toolbarItems = Array.from(
      (widget as any).toolbar.names() as Iterable<string>
    );
    expect(toolbarItems).toContain('ray-runtime-env');
    widget.dispose();
  });
});
