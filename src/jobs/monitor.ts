import { ApiError, type IJob } from '../api';
import { type IPolledState, PollingMonitor } from '../polling';
import { NO_FILTER, type IJobsFilter } from './model';

/** What the jobs section shows, as of the last answer. */
export interface IJobsState extends IPolledState {
  /** Every job on the cluster (unfiltered); `null` before the first answer. */
  readonly jobs: IJob[] | null;
  /** The user's filter, applied in the browser so the choices stay complete. */
  readonly filter: IJobsFilter;
}

/**
 * Keeps the jobs list fresh while the section is on screen: one request per
 * tick for all jobs (the server caches Ray's list and joins the history),
 * backing off while failing, standing by while hidden (see `PollingMonitor`).
 */
export class JobsMonitor extends PollingMonitor<IJob[], IJobsState> {
  constructor(options: JobsMonitor.IOptions) {
    super(
      'jupyter-ray-dev:jobs',
      {
        jobs: null,
        error: null,
        loading: true,
        updated: null,
        filter: NO_FILTER
      },
      options
    );
  }

  get filter(): IJobsFilter {
    return this.state.filter;
  }
  set filter(filter: IJobsFilter) {
    this.set({ filter });
  }

  /** Put one job's fresh state into the list at once (after stop, submit). */
  upsert(job: IJob): void {
    const jobs = this.state.jobs ?? [];
    const others = jobs.filter(j => j.submission_id !== job.submission_id);
    this.set({ jobs: [job, ...others] });
  }

  /** Drop a deleted job from the list at once. */
  remove(jobId: string): void {
    const jobs = this.state.jobs ?? [];
    this.set({ jobs: jobs.filter(j => j.submission_id !== jobId) });
  }

  protected succeeded(jobs: IJob[]): Partial<IJobsState> {
    return { jobs };
  }

  protected failed(_error: ApiError): Partial<IJobsState> {
    // Keep the last list: job history stays useful while Ray blips.
    return {};
  }
}

export namespace JobsMonitor {
  /** `fetch` is e.g. `() => api.listJobs()`. */
  export type IOptions = PollingMonitor.IOptions<IJob[]>;
}
