/**
 * The Ray dashboard inside Lab: commands that open it (or one of its pages)
 * in a Lab tab or a browser tab, restored on reload. The dashboard is the
 * one the server uses, proxied by the server (`ray-dev/dashboard/`), so one
 * port-forward of Jupyter's port is enough and the browser never holds the
 * Ray token.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import type { RayDevAPI } from '../api';
import { paletteOrMenu } from '../icons';
import { IRayDashboard, IRayDevAPI } from '../tokens';
import { DashboardWidget } from './widget';

export namespace DashboardCommandIDs {
  /** Open the dashboard in a Lab tab: `page` arg (e.g. `jobs/<id>`), `browserTab` arg. */
  export const open = 'ray-dev:open-dashboard';
  /** Open the dashboard in a new browser tab: `page` arg. */
  export const openInBrowser = 'ray-dev:open-dashboard-in-browser';
}

export interface IDashboardSetup {
  app: JupyterFrontEnd;
  api: RayDevAPI;
  translator: ITranslator;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
}

export const dashboardPlugin: JupyterFrontEndPlugin<IRayDashboard> = {
  id: 'jupyter-ray-dev:dashboard',
  description:
    'The Ray dashboard through the Jupyter server, in a Lab tab or a browser tab.',
  autoStart: true,
  requires: [IRayDevAPI],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer],
  provides: IRayDashboard,
  activate: (
    app: JupyterFrontEnd,
    api: IRayDevAPI,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): IRayDashboard =>
    setupDashboard({
      app,
      api,
      translator: translator ?? nullTranslator,
      palette,
      restorer
    })
};

export function setupDashboard(options: IDashboardSetup): IRayDashboard {
  const { app, api, translator, palette, restorer } = options;
  const trans = translator.load('jupyter_ray_dev');
  const { commands } = app;
  const tracker = new WidgetTracker<DashboardWidget>({
    namespace: 'jupyter-ray-dev-dashboard'
  });

  const openInBrowser = (page: string): void => {
    window.open(api.dashboardUrl(page), '_blank', 'noopener');
  };

  commands.addCommand(DashboardCommandIDs.open, {
    ...paletteOrMenu(
      trans.__('Ray: Open Ray dashboard'),
      trans.__('Open Ray dashboard')
    ),
    caption: trans.__(
      'The Ray dashboard in a Lab tab, through this server (no token to enter)'
    ),
    execute: args => {
      const page = String(args['page'] ?? '');
      if (args['browserTab']) {
        openInBrowser(page);
        return null;
      }
      let widget = tracker.currentWidget ?? tracker.find(() => true);
      if (widget) {
        widget.navigate(page);
        void tracker.save(widget); // the page to come back to after a reload
      } else {
        widget = new DashboardWidget({
          trans,
          page,
          urlOf: p => api.dashboardUrl(p)
        });
        void tracker.add(widget);
        app.shell.add(widget, 'main');
      }
      app.shell.activateById(widget.id);
      return widget;
    }
  });

  commands.addCommand(DashboardCommandIDs.openInBrowser, {
    label: trans.__('Ray: Open Ray dashboard in a browser tab'),
    caption: trans.__(
      'The Ray dashboard in a new browser tab, through this server'
    ),
    execute: args => openInBrowser(String(args['page'] ?? ''))
  });

  palette?.addItem({
    command: DashboardCommandIDs.open,
    category: 'Ray',
    args: { isPalette: true }
  });
  palette?.addItem({
    command: DashboardCommandIDs.openInBrowser,
    category: 'Ray'
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: DashboardCommandIDs.open,
      args: widget => ({ page: widget.page }),
      name: () => 'dashboard'
    });
  }

  return {
    open: (page = '') =>
      void commands.execute(DashboardCommandIDs.open, { page }),
    openInBrowser: (page = '') => openInBrowser(page)
  };
}
