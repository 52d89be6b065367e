import type { ITranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { RayDevAPI } from './api';
import { ClusterPanel } from './cluster/panel';
import { rayIcon } from './icons';
import { PolledSection } from './section';
import {
  DEFAULT_SECTION_RANK,
  type IRaySectionOptions,
  type IRaySidebar
} from './tokens';

/** The sidebar widget's id, used by the shell, the restorer and commands. */
export const SIDEBAR_ID = 'jupyter-ray-dev:panel';

/** The rank of the cluster section: first. */
const CLUSTER_RANK = 0;

/**
 * The "Ray" left sidebar: a side panel whose accordion holds one section per
 * capability, the cluster first; other plugins add theirs through `IRaySidebar`.
 */
export class RaySidebar extends SidePanel implements IRaySidebar {
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
    this.addSection(this.cluster, { rank: CLUSTER_RANK });
  }

  /** The cluster section (its `model` polls the server). */
  readonly cluster: ClusterPanel;

  /**
   * Milliseconds between refreshes of every polled section (the
   * `refreshInterval` setting); `null` leaves each at its own default.
   */
  get refreshInterval(): number | null {
    return this._interval;
  }
  set refreshInterval(value: number | null) {
    this._interval = value;
    for (const widget of this.widgets) {
      this._applyInterval(widget);
    }
  }

  addSection(section: Widget, options: IRaySectionOptions = {}): void {
    const rank = options.rank ?? DEFAULT_SECTION_RANK;
    this._ranks.set(section, rank);
    const index = this.widgets.findIndex(
      widget => (this._ranks.get(widget) ?? DEFAULT_SECTION_RANK) > rank
    );
    this.insertWidget(index < 0 ? this.widgets.length : index, section);
    this._applyInterval(section);
  }

  addToolbarItem(name: string, item: Widget): void {
    this.toolbar.addItem(name, item);
  }

  private _applyInterval(widget: Widget): void {
    if (this._interval !== null && widget instanceof PolledSection) {
      widget.model.interval = this._interval;
    }
  }

  private _interval: number | null = null;
  private _ranks = new WeakMap<Widget, number>();
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
