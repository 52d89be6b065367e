/**
 * The "Metrics" line of the cluster section: the dashboard's Metrics page
 * embeds Grafana, so it is linked when the dashboard reaches a Grafana and
 * otherwise the section says why not and what to set. Checked when the
 * section opens and on "Refresh" (the dashboard asks Grafana each time).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { DashboardPages, type IClusterMetrics, type RayDevAPI } from '../api';

export interface IDashboardMetricsProps {
  api: Pick<RayDevAPI, 'getClusterMetrics'>;
  trans: TranslationBundle;
  /** Open one of the dashboard's pages in a Lab tab. */
  openPage: (page: string) => void;
  /** Changing it checks again. */
  refreshKey?: number;
}

export function DashboardMetrics(
  props: IDashboardMetricsProps
): JSX.Element | null {
  const { api, trans, openPage, refreshKey } = props;
  const [answer, setAnswer] = React.useState<IClusterMetrics | null>(null);
  React.useEffect(() => {
    let current = true;
    api.getClusterMetrics().then(
      value => current && setAnswer(value),
      // Ray unreachable: the cluster section above already says so
      () => current && setAnswer(null)
    );
    return () => {
      current = false;
    };
  }, [api, refreshKey]);

  if (!answer) {
    return null;
  }
  if (!answer.available) {
    return (
      <p
        className="jp-RayDev-muted jp-RayDev-metrics"
        data-testid="ray-metrics-unavailable"
      >
        {trans.__('No metrics: %1', answer.message ?? '')}
      </p>
    );
  }
  return (
    <div className="jp-RayDev-metrics">
      <button
        type="button"
        className="jp-RayDev-dashboardLink jp-RayDev-linkButton"
        data-testid="ray-metrics-link"
        title={answer.message ?? undefined}
        onClick={() => openPage(DashboardPages.metrics)}
      >
        {trans.__('Metrics (Grafana)')}
      </button>
    </div>
  );
}
