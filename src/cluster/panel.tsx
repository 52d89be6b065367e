import type { ITranslator } from '@jupyterlab/translation';
import * as React from 'react';

import type { RayDevAPI } from '../api';
import { PolledSection } from '../section';
import { ClusterView } from './components';
import { KubeRayDetails } from './kuberay';
import { DashboardMetrics } from './metrics';
import { ClusterMonitor, type IClusterState } from './monitor';

/**
 * The "Cluster" section of the Ray sidebar: status, resources and nodes of
 * the Ray cluster, refreshed while the section is on screen, and the
 * RayCluster it runs as when in Kubernetes.
 */
export class ClusterPanel extends PolledSection<ClusterMonitor, IClusterState> {
  constructor(options: ClusterPanel.IOptions) {
    const trans = options.translator.load('jupyter_ray_dev');
    super({
      id: 'jupyter-ray-dev:cluster',
      className: 'jp-RayDev-clusterPanel',
      translator: options.translator,
      label: trans.__('Cluster'),
      caption: trans.__('The Ray cluster this server uses'),
      refreshTooltip: trans.__('Refresh the cluster status'),
      refreshTestId: 'ray-refresh',
      monitor: isVisible =>
        new ClusterMonitor({
          fetch: () => options.api.getCluster(),
          interval: options.refreshInterval,
          isVisible
        })
    });
    this._api = options.api;
    this._openDashboard = options.openDashboard ?? null;
  }

  protected onRefresh(): void {
    this._kuberayKey += 1; // the RayCluster is read again too
    super.onRefresh();
  }

  protected renderState(state: IClusterState): JSX.Element {
    return (
      <>
        <ClusterView
          state={state}
          trans={this.trans}
          onRetry={() => void this.model.refresh()}
          onOpenDashboard={
            this._openDashboard ? () => this._openDashboard?.('') : undefined
          }
        />
        {state.cluster && this._openDashboard && (
          <DashboardMetrics
            api={this._api}
            trans={this.trans}
            openPage={this._openDashboard}
            refreshKey={this._kuberayKey}
          />
        )}
        <KubeRayDetails
          api={this._api}
          trans={this.trans}
          refreshKey={this._kuberayKey}
        />
      </>
    );
  }

  private _api: RayDevAPI;
  private _kuberayKey = 0;
  private _openDashboard: ((page: string) => void) | null;
}

export namespace ClusterPanel {
  export interface IOptions {
    api: RayDevAPI;
    translator: ITranslator;
    /** Milliseconds between refreshes; see the `refreshInterval` setting. */
    refreshInterval?: number;
    /** Open a page of the Ray dashboard (`''`: overview) in a Lab tab. */
    openDashboard?: (page: string) => void;
  }
}
