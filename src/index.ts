import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CommandToolbarButton, ICommandPalette } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { RayDevAPI } from './api';
import { DEFAULT_REFRESH_INTERVAL } from './cluster/monitor';
import { DashboardCommandIDs, setupDashboard } from './dashboard/plugin';
import { rayIcon } from './icons';
import { setupJobs } from './jobs/plugin';
import { RuntimeEnvCommandIDs, setupRuntimeEnv } from './runtimeenv/plugin';
import { setupPromote } from './promote/plugin';
import { RaySidebar, SIDEBAR_ID } from './sidebar';
import { setupStorage } from './storage/plugin';

/** The plugin's id; also the id of its settings (`schema/plugin.json`). */
const PLUGIN_ID = 'jupyter-ray-dev:plugin';

/** Command ids. */
export namespace CommandIDs {
  export const openPanel = 'ray-dev:open-panel';
}

/**
 * The Ray sidebar: cluster status, plus the command that opens it.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A left sidebar showing the Ray cluster JupyterLab runs on.',
  autoStart: true,
  optional: [
    ITranslator,
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    IDefaultFileBrowser,
    INotebookTracker,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null = null,
    notebooks: INotebookTracker | null = null,
    editorServices: IEditorServices | null = null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_ray_dev');

    const api = new RayDevAPI({
      serverSettings: app.serviceManager.serverSettings
    });
    // The Ray dashboard through this server, in a Lab tab or a browser tab.
    setupDashboard({ app, api, translator, palette, restorer });
    const sidebar = new RaySidebar({
      api,
      translator,
      openDashboard: page =>
        void app.commands.execute(DashboardCommandIDs.open, { page })
    });
    // Rank 150: below the file browser (100), above running sessions (200).
    app.shell.add(sidebar, 'left', { rank: 150, type: 'Ray' });
    restorer?.add(sidebar, SIDEBAR_ID);

    // Jobs: sidebar section, run dialog, log viewer, menus and toolbar buttons.
    const jobs = setupJobs({
      app,
      api,
      translator,
      palette,
      restorer,
      fileBrowser,
      addSection: section => sidebar.addWidget(section)
    });

    // Promote to prod: command, menus, notebook toolbar, a section of the Ray panel.
    setupPromote({
      app,
      api,
      translator,
      palette,
      fileBrowser,
      addSection: section => sidebar.addWidget(section)
    });

    // Storage: its own left panel (after the Ray panel), commands, context menu.
    setupStorage({ app, api, translator, palette, restorer, notebooks });

    // Runtime environments: the editor, opened from the panel, the file browser, the palette.
    setupRuntimeEnv({
      app,
      api,
      translator,
      palette,
      restorer,
      fileBrowser,
      editorServices
    });
    sidebar.toolbar.addItem(
      'ray-runtime-env',
      new CommandToolbarButton({
        commands: app.commands,
        id: RuntimeEnvCommandIDs.open,
        label: trans.__('Environment')
      })
    );

    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open Ray Panel'),
      caption: trans.__('Show the Ray cluster panel in the left sidebar'),
      icon: args => (args['isPalette'] ? undefined : rayIcon),
      execute: () => {
        app.shell.activateById(sidebar.id);
      }
    });
    palette?.addItem({
      command: CommandIDs.openPanel,
      category: 'Ray',
      args: { isPalette: true }
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = (): void => {
            const interval =
              (settings.get('refreshInterval').composite as number) ??
              DEFAULT_REFRESH_INTERVAL;
            sidebar.cluster.model.interval = interval;
            jobs.model.interval = interval;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          // The panel works with defaults; a broken settings file must not hide it.
          console.error(`${PLUGIN_ID}: cannot load settings.`, reason);
        });
    }
  }
};

export default plugin;
