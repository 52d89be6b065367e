/**
 * The services one jupyter-ray-dev plugin offers another (and any other
 * extension): require a token in a plugin's `requires` or `optional`.
 */
import { Token } from '@lumino/coreutils';
import type { Widget } from '@lumino/widgets';

import type { ISubmittedJob, RayDevAPI } from './api';
import type { JobsMonitor } from './jobs/monitor';

/** The REST client of the server extension: the one place that knows its URLs. */
export type IRayDevAPI = RayDevAPI;
export const IRayDevAPI = new Token<IRayDevAPI>(
  'jupyter-ray-dev:IRayDevAPI',
  'The client of the jupyter-ray-dev REST API.'
);

/** The "Ray" left sidebar: the cluster section first, then a section per capability. */
export interface IRaySidebar {
  /** The sidebar widget's id (`app.shell.activateById`). */
  readonly id: string;
  /**
   * Add a section to the accordion, ordered by `rank` (lower first; the
   * cluster is 0). A polled section follows the `refreshInterval` setting.
   */
  addSection(section: Widget, options?: IRaySectionOptions): void;
  /** Add an item to the sidebar's header toolbar. */
  addToolbarItem(name: string, item: Widget): void;
}

export interface IRaySectionOptions {
  /** Default `DEFAULT_SECTION_RANK`. */
  rank?: number;
}

/** Where sections without a rank go: after the built-in ones. */
export const DEFAULT_SECTION_RANK = 1000;

export const IRaySidebar = new Token<IRaySidebar>(
  'jupyter-ray-dev:IRaySidebar',
  'The Ray sidebar, to add sections and toolbar items to.'
);

/** Ray jobs: run a file as a job, follow a job's log, the polled job list. */
export interface IRayJobs {
  /** The job list of the sidebar's Jobs section (polled while visible). */
  readonly model: JobsMonitor;
  /** Ask for the job's settings, submit it and open its log; null when cancelled. */
  run(path: string): Promise<ISubmittedJob | null>;
  /** Open (or bring forward) the live log of a job. */
  openLogs(jobId: string): void;
}

export const IRayJobs = new Token<IRayJobs>(
  'jupyter-ray-dev:IRayJobs',
  'Ray jobs: run a file as a job and open job logs.'
);

/** The Ray dashboard through the Jupyter server (which adds the Ray token). */
export interface IRayDashboard {
  /** Show one of its pages (`DashboardPages`; `''`: overview) in a Lab tab. */
  open(page?: string): void;
  /** The same in a new browser tab. */
  openInBrowser(page?: string): void;
}

export const IRayDashboard = new Token<IRayDashboard>(
  'jupyter-ray-dev:IRayDashboard',
  'The Ray dashboard in a Lab tab or a browser tab, through the Jupyter server.'
);
