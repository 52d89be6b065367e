import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, type IJob } from '../api';
import { DEFAULT_REFRESH_INTERVAL, frequencyFor } from '../cluster/monitor';
import { NO_FILTER, type IJobsFilter } from './model';

/** What the jobs section shows, as of the last answer. */
export interface IJobsState {
  /** Every job on the cluster (unfiltered); `null` before the first answer. */
  readonly jobs: IJob[] | null;
  /** The last failure; `null` once an answer arrives again. */
  readonly error: ApiError | null;
  readonly loading: boolean;
  readonly updated: Date | null;
  /** The user's filter, applied in the browser so the choices stay complete. */
  readonly filter: IJobsFilter;
}

/**
 * Keeps the jobs list fresh while the section is on screen: one request per
 * tick for all jobs (the server caches Ray's list and joins the history),
 * backing off while failing, standing by while hidden.
 */
export class JobsMonitor {
  constructor(options: JobsMonitor.IOptions) {
    this._fetch = options.fetch;
    const isVisible = options.isVisible ?? (() => true);
    this._poll = new Poll<IJob[], ApiError>({
      name: 'jupyter-ray-dev:jobs',
      factory: () => this._tick(),
      frequency: frequencyFor(options.interval ?? DEFAULT_REFRESH_INTERVAL),
      standby: () => !isVisible() || 'when-hidden',
      auto: options.auto ?? true
    });
  }

  get changed(): ISignal<this, IJobsState> {
    return this._changed;
  }

  get state(): IJobsState {
    return this._state;
  }

  get interval(): number {
    return this._poll.frequency.interval;
  }
  set interval(value: number) {
    this._poll.frequency = frequencyFor(value);
  }

  get filter(): IJobsFilter {
    return this._state.filter;
  }
  set filter(filter: IJobsFilter) {
    this._state = { ...this._state, filter };
    this._changed.emit(this._state);
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Fetch now (after an action, the refresh button, the section shown). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  start(): Promise<void> {
    return this._poll.start();
  }

  /** Put one job's fresh state into the list at once (after stop, submit). */
  upsert(job: IJob): void {
    const jobs = this._state.jobs ?? [];
    const others = jobs.filter(j => j.submission_id !== job.submission_id);
    this._set({ jobs: [job, ...others] });
  }

  /** Drop a deleted job from the list at once. */
  remove(jobId: string): void {
    const jobs = this._state.jobs ?? [];
    this._set({ jobs: jobs.filter(j => j.submission_id !== jobId) });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _tick(): Promise<IJob[]> {
    try {
      const jobs = await this._fetch();
      this._set({ jobs, error: null, loading: false, updated: new Date() });
      return jobs;
    } catch (reason) {
      const error =
        reason instanceof ApiError ? reason : ApiError.fromNetworkError(reason);
      // Keep the last list: job history stays useful while Ray blips.
      this._set({ error, loading: false, updated: new Date() });
      throw error;
    }
  }

  private _set(next: Partial<IJobsState>): void {
    if (this.isDisposed) {
      return;
    }
    this._state = { ...this._state, ...next };
    this._changed.emit(this._state);
  }

  private _changed = new Signal<this, IJobsState>(this);
  private _fetch: () => Promise<IJob[]>;
  private _poll: Poll<IJob[], ApiError>;
  private _state: IJobsState = {
    jobs: null,
    error: null,
    loading: true,
    updated: null,
    filter: NO_FILTER
  };
}

export namespace JobsMonitor {
  export interface IOptions {
    /** Fetch every job, e.g. `() => api.listJobs()`. */
    fetch: () => Promise<IJob[]>;
    interval?: number;
    isVisible?: () => boolean;
    auto?: boolean;
  }
}
