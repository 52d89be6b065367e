/**
 * Pure logic of the jobs UI: statuses, ordering, filters, durations and the
 * "Run as Ray job" form. No DOM, no server: everything here is unit-tested.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IJob, IJobResources, JobStatus } from '../api';

/** Every status Ray reports, in the order the filter offers them. */
export const JOB_STATUSES: readonly JobStatus[] = [
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'STOPPED'
];

/** Statuses after which nothing changes any more. */
const TERMINAL: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'STOPPED'
]);

/** Whether a job is done (a job Ray forgot, `null`, counts as done). */
export function isTerminal(status: JobStatus | null | undefined): boolean {
  return status === null || status === undefined || TERMINAL.has(status);
}

/** Whether a job can be stopped (it is waiting or running). */
export function isActive(status: JobStatus | null | undefined): boolean {
  return status === 'PENDING' || status === 'RUNNING';
}

/** The badge of a status: its label and the CSS modifier that colours it. */
export interface IStatusBadge {
  label: string;
  /** `jp-mod-<kind>`: pending, running, succeeded, failed, stopped, unknown. */
  kind: string;
}

export function statusBadge(
  status: JobStatus | null | undefined
): IStatusBadge {
  if (!status) {
    return { label: 'UNKNOWN', kind: 'unknown' };
  }
  return { label: status, kind: status.toLowerCase() };
}

/**
 * A status in words ("Running"). The badge keeps Ray's own constant
 * (`RUNNING`, as `ray job list` and the dashboard print it); this names it.
 */
export function statusName(
  status: JobStatus | null | undefined,
  trans: TranslationBundle
): string {
  switch (status) {
    case 'PENDING':
      return trans.__('Pending');
    case 'RUNNING':
      return trans.__('Running');
    case 'SUCCEEDED':
      return trans.__('Succeeded');
    case 'FAILED':
      return trans.__('Failed');
    case 'STOPPED':
      return trans.__('Stopped');
    default:
      return trans.__('Unknown');
  }
}

/** Active jobs first (running, then pending), then the rest newest first. */
export function sortJobs(jobs: readonly IJob[]): IJob[] {
  const rank = (job: IJob): number =>
    job.status === 'RUNNING' ? 0 : job.status === 'PENDING' ? 1 : 2;
  const when = (job: IJob): number =>
    job.start_time ?? job.created ?? Number.NEGATIVE_INFINITY;
  return [...jobs].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      when(b) - when(a) ||
      a.submission_id.localeCompare(b.submission_id)
  );
}

/** What the jobs list filters on; an empty status list means all. */
export interface IJobsFilter {
  statuses: readonly JobStatus[];
  /** Project folder (`''` = the Jupyter root); `null` = every project. */
  project: string | null;
}

export const NO_FILTER: IJobsFilter = { statuses: [], project: null };

export function filterJobs(jobs: readonly IJob[], filter: IJobsFilter): IJob[] {
  return jobs.filter(
    job =>
      (filter.statuses.length === 0 ||
        (job.status !== null && filter.statuses.includes(job.status))) &&
      (filter.project === null || job.project === filter.project)
  );
}

/** The projects jobs were launched from, sorted, for the project filter. */
export function projectsOf(jobs: readonly IJob[]): string[] {
  const projects = new Set<string>();
  for (const job of jobs) {
    if (job.project !== null && job.project !== undefined) {
      projects.add(job.project);
    }
  }
  return [...projects].sort();
}

/** Counts per status (jobs Ray forgot are not counted). */
export function countByStatus(
  jobs: readonly IJob[]
): Partial<Record<JobStatus, number>> {
  const counts: Partial<Record<JobStatus, number>> = {};
  for (const job of jobs) {
    if (job.status) {
      counts[job.status] = (counts[job.status] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * A job's duration in seconds: Ray's figure, else from its times; while it
 * runs, up to `now` (seconds since the epoch) so the list ticks.
 */
export function jobDuration(job: IJob, now: number): number | null {
  if (job.start_time === null || job.start_time === undefined) {
    return job.duration ?? null;
  }
  if (job.end_time !== null && job.end_time !== undefined) {
    return Math.max(0, job.end_time - job.start_time);
  }
  if (isActive(job.status)) {
    return Math.max(0, now - job.start_time);
  }
  return job.duration ?? null;
}

/** The file name of a path, for compact display. */
export function baseName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

/** Whether the dialog can run a file of this path. */
export function isRunnableFile(path: string | null | undefined): boolean {
  return !!path && /\.(py|ipynb)$/i.test(path);
}

/** The raw text fields of the "Run as Ray job" form. */
export interface IRunForm {
  args: string;
  cpus: string;
  gpus: string;
  /** A size: bytes, or a number with KB/MB/GB/KiB/MiB/GiB... */
  memory: string;
  /** `name=amount` pairs, separated by commas or spaces. */
  custom: string;
}

export const EMPTY_FORM: IRunForm = {
  args: '',
  cpus: '',
  gpus: '',
  memory: '',
  custom: ''
};

/** The parsed form, or the field that is wrong and why. */
export type ParsedForm =
  | { ok: true; args: string; resources: IJobResources }
  | { ok: false; field: keyof IRunForm; message: string };

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4
};

/** Bytes of `"2GiB"`, `"512 MB"`, `"1e9"`; `null` when it is not a size. */
export function parseSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) {
    return null;
  }
  const unit = UNITS[match[2].toLowerCase()];
  if (unit === undefined) {
    return null;
  }
  return Math.round(parseFloat(match[1]) * unit);
}

function parseAmount(text: string): number | null | undefined {
  if (text.trim() === '') {
    return undefined;
  }
  const value = Number(text.trim());
  return isFinite(value) && value >= 0 ? value : null;
}

/** Validate the form the way the server will, naming the field at fault. */
export function parseRunForm(
  form: IRunForm,
  trans: TranslationBundle
): ParsedForm {
  const resources: IJobResources = {};
  const amounts = [
    {
      field: 'cpus',
      key: 'num_cpus',
      message: trans.__('CPUs must be a number, 0 or more (e.g. 1 or 0.5).')
    },
    {
      field: 'gpus',
      key: 'num_gpus',
      message: trans.__('GPUs must be a number, 0 or more (e.g. 1 or 0.25).')
    }
  ] as const;
  for (const { field, key, message } of amounts) {
    const amount = parseAmount(form[field]);
    if (amount === null) {
      return { ok: false, field, message };
    }
    if (amount !== undefined) {
      resources[key] = amount;
    }
  }
  if (form.memory.trim() !== '') {
    const memory = parseSize(form.memory);
    if (memory === null) {
      return {
        ok: false,
        field: 'memory',
        message: trans.__(
          'Memory must be a size such as 2GiB, 512MB or a number of bytes.'
        )
      };
    }
    resources.memory = memory;
  }
  const custom: Record<string, number> = {};
  for (const pair of form.custom.split(/[\s,]+/).filter(Boolean)) {
    const match = /^([^=]+)=(.+)$/.exec(pair);
    const amount = match ? parseAmount(match[2]) : null;
    if (!match || amount === null || amount === undefined) {
      return {
        ok: false,
        field: 'custom',
        message: trans.__(
          'Custom resources are name=amount pairs (e.g. accelerator=1); "%1" is not.',
          pair
        )
      };
    }
    custom[match[1]] = amount;
  }
  if (Object.keys(custom).length) {
    resources.custom = custom;
  }
  return { ok: true, args: form.args.trim(), resources };
}

/** A one-line summary of entrypoint resources, e.g. `2 CPU · 1 GPU · 4 GiB`. */
export function formatResources(resources: IJobResources | undefined): string {
  if (!resources) {
    return '';
  }
  const parts: string[] = [];
  if (resources.num_cpus !== undefined) {
    parts.push(`${resources.num_cpus} CPU`);
  }
  if (resources.num_gpus !== undefined) {
    parts.push(`${resources.num_gpus} GPU`);
  }
  if (resources.memory !== undefined) {
    parts.push(formatBytes(resources.memory));
  }
  for (const [name, amount] of Object.entries(resources.custom ?? {})) {
    parts.push(`${amount} ${name}`);
  }
  return parts.join(' · ');
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}

/** The folder of a path relative to the Jupyter root (`''` for the root). */
export function dirName(path: string): string {
  const index = path.lastIndexOf('/');
  return index < 0 ? '' : path.slice(0, index);
}

/**
 * The folders, nearest first, where a file's project `runtime_env.yaml` may
 * live: the server picks the nearest folder up from the file holding one.
 */
export function projectCandidates(file: string): string[] {
  const folders: string[] = [];
  let dir = dirName(file);
  for (;;) {
    folders.push(dir);
    if (dir === '') {
      return folders;
    }
    dir = dirName(dir);
  }
}

/** Top-level keys of a runtime_env.yaml, for the dialog's summary. */
export function runtimeEnvKeys(yaml: string): string[] {
  const keys: string[] = [];
  for (const line of yaml.split(/\r?\n/)) {
    const match = /^([A-Za-z_][\w-]*)\s*:/.exec(line);
    if (match && !keys.includes(match[1])) {
      keys.push(match[1]);
    }
  }
  return keys;
}
