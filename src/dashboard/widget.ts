import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  launchIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';

import { rayIcon } from '../icons';

/**
 * The Ray dashboard in a Lab tab: an iframe on the dashboard proxied by the
 * Jupyter server (same origin, so it carries the user's Jupyter session; the
 * server adds the Ray token). One tab: opening another page navigates it.
 */
export class DashboardWidget extends MainAreaWidget<IFrame> {
  constructor(options: DashboardWidget.IOptions) {
    const trans = options.trans;
    const content = new IFrame({
      // the dashboard's own scripts must run and call its API on this origin;
      // its links to logs and profiles open in new tabs
      sandbox: [
        'allow-scripts',
        'allow-same-origin',
        'allow-forms',
        'allow-popups',
        'allow-downloads'
      ],
      referrerPolicy: 'same-origin'
    });
    super({ content });
    this.id = DashboardWidget.ID;
    this.addClass('jp-RayDev-dashboardWidget');
    this.title.label = trans.__('Ray Dashboard');
    this.title.caption = trans.__('The Ray dashboard, through this server');
    this.title.icon = rayIcon;
    this.title.closable = true;
    this._urlOf = options.urlOf;
    this.navigate(options.page ?? '');

    this.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Reload the dashboard'),
        dataset: { 'data-testid': 'ray-dashboard-reload' },
        onClick: () => this.reload()
      })
    );
    this.toolbar.addItem(
      'browser-tab',
      new ToolbarButton({
        icon: launchIcon,
        tooltip: trans.__('Open this page in a browser tab'),
        dataset: { 'data-testid': 'ray-dashboard-browser-tab' },
        onClick: () => {
          window.open(this.currentUrl, '_blank', 'noopener');
        }
      })
    );
  }

  /** The page last asked for (kept for the layout restorer). */
  get page(): string {
    return this._page;
  }

  /** Where the user is now, followed inside the frame when it can be read. */
  get currentUrl(): string {
    try {
      const href = this._frame()?.contentWindow?.location.href;
      if (href && href !== 'about:blank') {
        return href;
      }
    } catch {
      // not readable (navigated elsewhere): the page last asked for
    }
    return this.content.url;
  }

  /** Show one of the dashboard's pages, e.g. `jobs/<id>` (`''`: overview). */
  navigate(page: string): void {
    this._page = page;
    const url = this._urlOf(page);
    if (this.content.url === url) {
      this.reload();
    } else {
      this.content.url = url;
    }
  }

  reload(): void {
    const frame = this._frame();
    try {
      frame?.contentWindow?.location.reload();
    } catch {
      this.content.url = this._urlOf(this._page);
    }
  }

  private _frame(): HTMLIFrameElement | null {
    return this.content.node.querySelector('iframe');
  }

  private _page = '';
  private _urlOf: (page: string) => string;
}

export namespace DashboardWidget {
  export const ID = 'jupyter-ray-dev:dashboard';

  export interface IOptions {
    trans: TranslationBundle;
    /** The proxied dashboard's URL of a page (`RayDevAPI.dashboardUrl`). */
    urlOf: (page: string) => string;
    page?: string;
  }
}
