import { ApiError, type IClusterSummary } from '../api';
import { type IPolledState, PollingMonitor } from '../polling';

export {
  DEFAULT_REFRESH_INTERVAL,
  MAX_BACKOFF_INTERVAL,
  frequencyFor
} from '../polling';

/** What the cluster panel shows, as of the last answer. */
export interface IClusterState extends IPolledState {
  /** The last summary; `null` before the first answer and while failing. */
  readonly cluster: IClusterSummary | null;
}

/**
 * Keeps the Ray cluster status fresh while someone can see it; recovers by
 * itself once Ray is back (see `PollingMonitor`).
 */
export class ClusterMonitor extends PollingMonitor<
  IClusterSummary,
  IClusterState
> {
  constructor(options: ClusterMonitor.IOptions) {
    super(
      'jupyter-ray-dev:cluster',
      { cluster: null, error: null, loading: true, updated: null },
      options
    );
  }

  protected succeeded(cluster: IClusterSummary): Partial<IClusterState> {
    return { cluster };
  }

  protected failed(_error: ApiError): Partial<IClusterState> {
    // Drop the last summary: showing stale nodes next to "unreachable"
    // would suggest they are still up.
    return { cluster: null };
  }
}

export namespace ClusterMonitor {
  /** `fetch` is e.g. `api.getCluster`. */
  export type IOptions = PollingMonitor.IOptions<IClusterSummary>;
}
