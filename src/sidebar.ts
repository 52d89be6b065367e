import type { ITranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { RayDevAPI } from './api';
import { ClusterPanel } from './cluster/panel';
import { rayIcon } from './icons';

/** The sidebar widget's id, used by the shell, the restorer and commands. */
export const SIDEBAR_ID = 'jupyter-ray-dev:panel';

/**
 * The "Ray" left sidebar: a side panel whose accordion holds one section per
 * capability. The cluster section comes first; jobs and storage sections
 * are meant to be added below it.
 */
export class RaySidebar extends SidePanel {
  constructor(options: RaySidebar.IOptions) {
    super({ translator: options.translator });
    const trans = options.translator.load('jupyter_ray_dev');
    this.id = SIDEBAR_ID;
    this.addClass('jp-RayDev-sidebar');
    this.title.icon = rayIcon;
    this.title.caption = trans.__('Ray cluster');

    const heading = document.createElement('h2');
    heading.textContent = trans.__('Ray');
    this.header.addWidget(new Widget({ node: heading }));

    this.cluster = new ClusterPanel(options);
    this.addWidget(this.cluster);
  }

  /** The cluster section (its `model` polls the server). */
  readonly cluster: ClusterPanel;
}

export namespace RaySidebar {
  export interface IOptions {
    api: RayDevAPI;
    translator: ITranslator;
    refreshInterval?: number;
    /** Open a page of the Ray dashboard (`''`: overview) in a Lab tab. */
    openDashboard?: (page: string) => void;
  }
}
