/**
 * React view of the Jobs section: filters and one row per job. Stateless:
 * everything comes from `IJobsState`, actions go back through callbacks.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  deleteIcon,
  LabIcon,
  listIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import type { IJob, JobStatus } from '../api';
import { RetryFooter } from '../cluster/components';
import { rayIcon } from '../icons';
import {
  baseName,
  countByStatus,
  filterJobs,
  formatResources,
  isActive,
  isTerminal,
  JOB_STATUSES,
  jobDuration,
  projectsOf,
  sortJobs,
  statusBadge,
  statusName,
  type IJobsFilter
} from './model';
import { formatDuration } from '../time';
import type { IJobsState } from './monitor';

/** What a row's buttons do; the section wires them to the API and dialogs. */
export interface IJobActions {
  openLogs: (job: IJob) => void;
  /** The job's page in the Ray dashboard (absent: no such button). */
  openDashboard?: (job: IJob) => void;
  openFile: (path: string) => void;
  stop: (job: IJob) => void;
  remove: (job: IJob) => void;
  rerun: (job: IJob) => void;
  setFilter: (filter: IJobsFilter) => void;
  retry: () => void;
}

export interface IJobsViewProps {
  state: IJobsState;
  trans: TranslationBundle;
  actions: IJobActions;
  /** Seconds since the epoch, for the duration of running jobs. */
  now: number;
  /** Submission ids with an action under way (buttons disabled). */
  busy?: ReadonlySet<string>;
}

export function StatusBadge(props: {
  status: JobStatus | null;
  trans: TranslationBundle;
}): JSX.Element {
  const badge = statusBadge(props.status);
  return (
    <span
      className={`jp-RayDev-jobBadge jp-mod-${badge.kind}`}
      data-testid="ray-job-status"
      data-status={badge.label}
      title={
        props.status
          ? statusName(props.status, props.trans)
          : props.trans.__('Ray no longer knows this job (history only)')
      }
    >
      {badge.label}
    </span>
  );
}

export function JobsView(props: IJobsViewProps): JSX.Element {
  const { state, trans, actions } = props;
  const all = state.jobs ?? [];
  const shown = sortJobs(filterJobs(all, state.filter));
  return (
    <div
      className="jp-RayDev-jobs"
      data-testid="ray-jobs"
      aria-busy={state.loading}
    >
      <JobsFilterBar
        jobs={all}
        filter={state.filter}
        trans={trans}
        onChange={actions.setFilter}
      />
      {state.error && (
        <div
          className="jp-RayDev-error"
          role="alert"
          data-testid="ray-jobs-error"
        >
          <p className="jp-RayDev-errorMessage">{state.error.message}</p>
          <RetryFooter trans={trans} onRetry={actions.retry} />
        </div>
      )}
      {state.jobs === null && !state.error && (
        <div className="jp-RayDev-loading">{trans.__('Loading jobs…')}</div>
      )}
      {state.jobs !== null && shown.length === 0 && (
        <div className="jp-RayDev-empty" data-testid="ray-jobs-empty">
          {all.length === 0
            ? trans.__(
                'No jobs yet. Right-click a .py or .ipynb file and choose “Run as Ray job…”.'
              )
            : trans.__('No job matches the filter.')}
        </div>
      )}
      <ul className="jp-RayDev-jobList">
        {shown.map(job => (
          <JobRow
            key={job.submission_id}
            job={job}
            trans={trans}
            actions={actions}
            now={props.now}
            busy={props.busy?.has(job.submission_id) ?? false}
          />
        ))}
      </ul>
    </div>
  );
}

function JobsFilterBar(props: {
  jobs: IJob[];
  filter: IJobsFilter;
  trans: TranslationBundle;
  onChange: (filter: IJobsFilter) => void;
}): JSX.Element {
  const { filter, trans, onChange } = props;
  const counts = countByStatus(props.jobs);
  const projects = projectsOf(props.jobs);
  if (filter.project !== null && !projects.includes(filter.project)) {
    projects.push(filter.project);
  }
  const toggle = (status: JobStatus): void => {
    const statuses = filter.statuses.includes(status)
      ? filter.statuses.filter(s => s !== status)
      : [...filter.statuses, status];
    onChange({ ...filter, statuses });
  };
  return (
    <div className="jp-RayDev-jobFilters">
      <div
        className="jp-RayDev-statusFilter"
        role="group"
        aria-label={trans.__('Filter by status')}
      >
        {JOB_STATUSES.map(status => {
          const on = filter.statuses.includes(status);
          return (
            <button
              type="button"
              key={status}
              className={`jp-RayDev-chip jp-mod-${status.toLowerCase()}${
                on ? ' jp-mod-active' : ''
              }`}
              aria-pressed={on}
              data-testid={`ray-jobs-filter-${status}`}
              title={trans.__(
                'Show only %1 jobs (click again to clear)',
                statusName(status, trans)
              )}
              onClick={() => toggle(status)}
            >
              {statusName(status, trans)}
              <span className="jp-RayDev-chipCount">{counts[status] ?? 0}</span>
            </button>
          );
        })}
      </div>
      {projects.length > 0 && (
        <select
          className="jp-mod-styled jp-RayDev-projectFilter"
          aria-label={trans.__('Filter by project')}
          data-testid="ray-jobs-project"
          value={filter.project === null ? '\u0000all' : filter.project}
          onChange={event => {
            const value = event.currentTarget.value;
            onChange({
              ...filter,
              project: value === '\u0000all' ? null : value
            });
          }}
        >
          <option value={'\u0000all'}>{trans.__('All projects')}</option>
          {projects.map(project => (
            <option key={project} value={project}>
              {project === '' ? trans.__('/ (Jupyter root)') : project}
            </option>
          ))}
        </select>
      )}
    </div>
  );
}

function ActionButton(props: {
  icon: LabIcon;
  label: string;
  testid: string;
  disabled?: boolean;
  onClick: () => void;
}): JSX.Element {
  return (
    <button
      type="button"
      className="jp-RayDev-jobAction"
      title={props.label}
      aria-label={props.label}
      data-testid={props.testid}
      disabled={props.disabled}
      onClick={event => {
        event.stopPropagation();
        props.onClick();
      }}
    >
      <props.icon.react tag="span" elementSize="small" />
    </button>
  );
}

function JobRow(props: {
  job: IJob;
  trans: TranslationBundle;
  actions: IJobActions;
  now: number;
  busy: boolean;
}): JSX.Element {
  const { job, trans, actions, busy } = props;
  const title = job.file ? baseName(job.file) : job.submission_id;
  const failed = job.status === 'FAILED';
  const resources = formatResources(job.settings?.resources);
  return (
    <li
      className={`jp-RayDev-job${failed ? ' jp-mod-failed' : ''}`}
      data-testid="ray-job"
      data-job-id={job.submission_id}
    >
      <div className="jp-RayDev-jobHeader">
        <StatusBadge status={job.status} trans={trans} />
        {job.file ? (
          <button
            type="button"
            className="jp-RayDev-jobFile"
            data-testid="ray-job-file"
            title={trans.__('Open %1', job.file)}
            onClick={() => actions.openFile(job.file!)}
          >
            {title}
          </button>
        ) : (
          <span
            className="jp-RayDev-jobFile jp-mod-plain"
            title={job.submission_id}
          >
            {title}
          </span>
        )}
        <span
          className="jp-RayDev-jobDuration"
          data-testid="ray-job-duration"
          title={trans.__('Duration')}
        >
          {formatDuration(jobDuration(job, props.now), trans)}
        </span>
      </div>
      {job.entrypoint && (
        <div className="jp-RayDev-jobEntrypoint" title={job.entrypoint}>
          <code>{job.entrypoint}</code>
        </div>
      )}
      <div className="jp-RayDev-jobMeta">
        <span title={trans.__('Submission id')}>{job.submission_id}</span>
        {job.user && <span>{trans.__('by %1', job.user)}</span>}
        {resources && <span>{resources}</span>}
      </div>
      {failed && (job.error_type || job.error_summary || job.message) && (
        <div className="jp-RayDev-jobError" data-testid="ray-job-error">
          {job.error_type && (
            <span className="jp-RayDev-jobErrorType">{job.error_type}</span>
          )}
          <span className="jp-RayDev-jobErrorMessage">
            {job.error_summary ?? firstLine(job.message)}
          </span>
        </div>
      )}
      <div className="jp-RayDev-jobActions">
        <ActionButton
          icon={listIcon}
          label={trans.__('Show logs')}
          testid="ray-job-logs"
          disabled={!job.known_to_ray}
          onClick={() => actions.openLogs(job)}
        />
        {actions.openDashboard && (
          <ActionButton
            icon={rayIcon}
            label={trans.__('View in dashboard')}
            testid="ray-job-dashboard"
            disabled={!job.known_to_ray}
            onClick={() => actions.openDashboard?.(job)}
          />
        )}
        {isActive(job.status) && (
          <ActionButton
            icon={stopIcon}
            label={trans.__('Stop job')}
            testid="ray-job-stop"
            disabled={busy}
            onClick={() => actions.stop(job)}
          />
        )}
        {job.can_rerun && (
          <ActionButton
            icon={runIcon}
            label={trans.__('Run again with the same settings')}
            testid="ray-job-rerun"
            disabled={busy}
            onClick={() => actions.rerun(job)}
          />
        )}
        {isTerminal(job.status) && (
          <ActionButton
            icon={deleteIcon}
            label={trans.__('Delete job')}
            testid="ray-job-delete"
            disabled={busy}
            onClick={() => actions.remove(job)}
          />
        )}
      </div>
    </li>
  );
}

function firstLine(text: string | null): string {
  return (text ?? '').split('\n')[0];
}
