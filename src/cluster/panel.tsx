import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  ReactWidget,
  refreshIcon,
  Toolbar,
  ToolbarButton,
  UseSignal
} from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import type { RayDevAPI } from '../api';
import { ClusterView } from './components';
import { KubeRayDetails } from './kuberay';
import { ClusterMonitor, type IClusterState } from './monitor';

/**
 * The "Cluster" section of the Ray sidebar: status, resources and nodes of
 * the Ray cluster, refreshed while the section is on screen.
 *
 * It owns its `ClusterMonitor`: disposing the section stops the polling.
 */
export class ClusterPanel extends ReactWidget {
  constructor(options: ClusterPanel.IOptions) {
    super();
    this.id = 'jupyter-ray-dev:cluster';
    this.addClass('jp-RayDev-clusterPanel');
    this._trans = options.translator.load('jupyter_ray_dev');
    this.title.label = this._trans.__('Cluster');
    this.title.caption = this._trans.__('The Ray cluster this server uses');
    this._api = options.api;

    this.model = new ClusterMonitor({
      fetch: () => options.api.getCluster(),
      interval: options.refreshInterval,
      // `isVisible` is false while the sidebar is collapsed, another sidebar
      // tab is selected or this accordion section is folded.
      isVisible: () => this.isVisible
    });

    // The accordion shows this toolbar in the section's title bar.
    this.toolbar = new Toolbar();
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: this._trans.__('Refresh the cluster status'),
        dataset: { 'data-testid': 'ray-refresh' },
        onClick: () => {
          this._kuberayKey += 1; // the RayCluster is read again too
          void this.model.refresh();
        }
      })
    );
  }

  /** The polling status model; the plugin updates its interval from settings. */
  readonly model: ClusterMonitor;

  /** Section toolbar, picked up by the side panel's accordion. */
  readonly toolbar: Toolbar;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    this.toolbar.dispose();
    super.dispose();
  }

  /** Fresh figures as soon as the section comes back into view. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.model.refresh();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed} initialArgs={this.model.state}>
        {(_, state?: IClusterState) => (
          <>
            <ClusterView
              state={state ?? this.model.state}
              trans={this._trans}
              onRetry={() => void this.model.refresh()}
            />
            <KubeRayDetails
              api={this._api}
              trans={this._trans}
              refreshKey={this._kuberayKey}
            />
          </>
        )}
      </UseSignal>
    );
  }

  private _trans: TranslationBundle;
  private _api: RayDevAPI;
  private _kuberayKey = 0;
}

export namespace ClusterPanel {
  export interface IOptions {
    api: RayDevAPI;
    translator: ITranslator;
    /** Milliseconds between refreshes; see the `refreshInterval` setting. */
    refreshInterval?: number;
  }
}
