/**
 * The Ray sidebar with its cluster section, the command that opens it and the
 * `refreshInterval` setting of every polled section.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { rayIcon } from '../icons';
import { RaySidebar, SIDEBAR_ID } from '../sidebar';
import { IRayDashboard, IRayDevAPI, IRaySidebar } from '../tokens';
import { DEFAULT_REFRESH_INTERVAL } from './monitor';

/** The plugin's id; also the id of its settings (`schema/plugin.json`). */
export const PLUGIN_ID = 'jupyter-ray-dev:plugin';

/** Command ids. */
export namespace CommandIDs {
  export const openPanel = 'ray-dev:open-panel';
}

export const clusterPlugin: JupyterFrontEndPlugin<IRaySidebar> = {
  id: PLUGIN_ID,
  description: 'A left sidebar showing the Ray cluster JupyterLab runs on.',
  autoStart: true,
  requires: [IRayDevAPI],
  optional: [
    ITranslator,
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    IRayDashboard
  ],
  provides: IRaySidebar,
  activate: (
    app: JupyterFrontEnd,
    api: IRayDevAPI,
    translator: ITranslator | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    dashboard: IRayDashboard | null
  ): IRaySidebar => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_ray_dev');

    const sidebar = new RaySidebar({
      api,
      translator,
      openDashboard: dashboard ? page => dashboard.open(page) : undefined
    });
    // Rank 150: below the file browser (100), above running sessions (200).
    app.shell.add(sidebar, 'left', { rank: 150, type: 'Ray' });
    restorer?.add(sidebar, SIDEBAR_ID);

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
            sidebar.refreshInterval =
              (settings.get('refreshInterval').composite as number) ??
              DEFAULT_REFRESH_INTERVAL;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          // The panel works with defaults; a broken settings file must not hide it.
          console.error(`${PLUGIN_ID}: cannot load settings.`, reason);
        });
    }
    return sidebar;
  }
};
