import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, type IClusterSummary } from '../api';

/** Polling defaults; `interval` is overridden by the `refreshInterval` setting. */
export const DEFAULT_REFRESH_INTERVAL = 5000;
/** Longest wait between attempts while Ray stays unreachable. */
export const MAX_BACKOFF_INTERVAL = 60000;

/** What the cluster panel shows, as of the last answer. */
export interface IClusterState {
  /** The last summary; `null` before the first answer and while failing. */
  readonly cluster: IClusterSummary | null;
  /** The last failure; `null` once an answer arrives again. */
  readonly error: ApiError | null;
  /** True until the first answer, good or bad. */
  readonly loading: boolean;
  /** When the last answer (good or bad) arrived. */
  readonly updated: Date | null;
}

/**
 * Keeps the Ray cluster status fresh while someone can see it.
 *
 * A Lumino `Poll` calls `fetch` every `interval` ms. Failures (Ray down, server
 * gone) are kept in `state.error` and make the poll back off up to
 * `MAX_BACKOFF_INTERVAL`; the first success clears the error, so the panel
 * recovers on its own once Ray is back. The poll stands by while `isVisible`
 * says the panel is hidden or the browser tab is in the background.
 */
export class ClusterMonitor {
  constructor(options: ClusterMonitor.IOptions) {
    this._fetch = options.fetch;
    const isVisible = options.isVisible ?? (() => true);
    const interval = options.interval ?? DEFAULT_REFRESH_INTERVAL;
    this._poll = new Poll<IClusterSummary, ApiError>({
      name: 'jupyter-ray-dev:cluster',
      factory: () => this._tick(),
      frequency: frequencyFor(interval),
      // Returning true stands by; 'when-hidden' also stands by in a background tab.
      standby: () => !isVisible() || 'when-hidden',
      auto: options.auto ?? true
    });
  }

  /** Emits after every answer, good or bad. */
  get changed(): ISignal<this, IClusterState> {
    return this._changed;
  }

  get state(): IClusterState {
    return this._state;
  }

  /** Milliseconds between refreshes while the panel is visible. */
  get interval(): number {
    return this._poll.frequency.interval;
  }
  set interval(value: number) {
    this._poll.frequency = frequencyFor(value);
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /**
   * Fetch now instead of waiting for the next tick (refresh button, panel
   * shown). Resolves when the refresh is scheduled, not when it completes.
   */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** Start polling (only needed with `auto: false`). */
  start(): Promise<void> {
    return this._poll.start();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _tick(): Promise<IClusterSummary> {
    try {
      const cluster = await this._fetch();
      this._update({ cluster, error: null });
      return cluster;
    } catch (reason) {
      const error =
        reason instanceof ApiError ? reason : ApiError.fromNetworkError(reason);
      // Drop the last summary: showing stale nodes next to "unreachable"
      // would suggest they are still up.
      this._update({ cluster: null, error });
      // Rethrow so that the poll backs off while the failure lasts.
      throw error;
    }
  }

  private _update(next: Pick<IClusterState, 'cluster' | 'error'>): void {
    if (this.isDisposed) {
      return;
    }
    this._state = { ...next, loading: false, updated: new Date() };
    this._changed.emit(this._state);
  }

  private _changed = new Signal<this, IClusterState>(this);
  private _fetch: () => Promise<IClusterSummary>;
  private _poll: Poll<IClusterSummary, ApiError>;
  private _state: IClusterState = {
    cluster: null,
    error: null,
    loading: true,
    updated: null
  };
}

export namespace ClusterMonitor {
  export interface IOptions {
    /** Fetch the summary, rejecting with `ApiError`, e.g. `api.getCluster`. */
    fetch: () => Promise<IClusterSummary>;
    /** Milliseconds between refreshes; default `DEFAULT_REFRESH_INTERVAL`. */
    interval?: number;
    /** Whether the panel is on screen; polling stands by when it is not. */
    isVisible?: () => boolean;
    /** Start polling on construction (default true). */
    auto?: boolean;
  }
}

/** Poll frequency for a refresh interval: back off on failure up to a minute. */
export function frequencyFor(interval: number): {
  interval: number;
  backoff: boolean;
  max: number;
} {
  const safe = Math.max(1000, Math.round(interval) || DEFAULT_REFRESH_INTERVAL);
  // `Poll` rejects an interval above `max`: a slow refresh widens the ceiling.
  return {
    interval: safe,
    backoff: true,
    max: Math.max(safe, MAX_BACKOFF_INTERVAL)
  };
}
