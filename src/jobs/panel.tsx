import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import type { ITranslator } from '@jupyterlab/translation';
import * as React from 'react';

import type { IJob, ISubmittedJob, RayDevAPI } from '../api';
import { PolledSection } from '../section';
import { JobsView, type IJobActions } from './components';
import { baseName } from './model';
import { JobsMonitor, type IJobsState } from './monitor';

/**
 * The "Jobs" section of the Ray sidebar: every job on the cluster, with
 * filters, logs, stop, delete and re-run. Owns its `JobsMonitor`.
 */
export class JobsPanel extends PolledSection<JobsMonitor, IJobsState> {
  constructor(options: JobsPanel.IOptions) {
    const trans = options.translator.load('jupyter_ray_dev');
    super({
      id: 'jupyter-ray-dev:jobs',
      className: 'jp-RayDev-jobsPanel',
      translator: options.translator,
      label: trans.__('Jobs'),
      caption: trans.__('Ray jobs on this cluster'),
      refreshTooltip: trans.__('Refresh the jobs list'),
      refreshTestId: 'ray-jobs-refresh',
      monitor: isVisible =>
        new JobsMonitor({
          fetch: () => options.api.listJobs(),
          interval: options.refreshInterval,
          isVisible
        })
    });
    this._api = options.api;
    this._options = options;

    this._actions = {
      openLogs: job => options.openLogs(job.submission_id),
      openDashboard: options.openDashboard
        ? job => options.openDashboard?.(job.submission_id)
        : undefined,
      openFile: path => options.openFile(path),
      stop: job => void this.stop(job),
      remove: job => void this.remove(job),
      rerun: job => void this.rerun(job),
      setFilter: filter => {
        this.model.filter = filter;
      },
      retry: () => void this.model.refresh()
    };
  }

  /** Ask, then stop a running job. Resolves true when stopped. */
  async stop(job: IJob): Promise<boolean> {
    const trans = this.trans;
    return this._confirmThen(
      job,
      {
        title: trans.__('Stop Ray job?'),
        body: trans.__(
          'Stop %1 (%2)? Ray ends its driver and every task it started.',
          job.file ? baseName(job.file) : (job.entrypoint ?? ''),
          job.submission_id
        ),
        action: trans.__('Stop')
      },
      async () => {
        const stopped = await this._api.stopJob(job.submission_id);
        this.model.upsert(stopped);
        void this.model.refresh();
      },
      trans.__('Cannot stop the job')
    );
  }

  /** Ask, then delete a finished job from Ray and the history. */
  async remove(job: IJob): Promise<boolean> {
    const trans = this.trans;
    return this._confirmThen(
      job,
      {
        title: trans.__('Delete Ray job?'),
        body: trans.__(
          'Delete %1 and its logs from Ray and from the history? This cannot be undone.',
          job.submission_id
        ),
        action: trans.__('Delete')
      },
      async () => {
        await this._api.deleteJob(job.submission_id);
        this.model.remove(job.submission_id);
      },
      trans.__('Cannot delete the job')
    );
  }

  /** Launch a job again with its stored settings; opens the new job's log. */
  async rerun(job: IJob): Promise<ISubmittedJob | null> {
    const trans = this.trans;
    let submitted: ISubmittedJob | null = null;
    await this._busyWhile(
      job,
      async () => {
        submitted = await this._api.rerunJob(job.submission_id);
        this.model.upsert(submitted);
        this._options.openLogs(submitted.submission_id);
        void this.model.refresh();
        return true;
      },
      trans.__('Cannot run the job again')
    );
    return submitted;
  }

  protected renderState(state: IJobsState): JSX.Element {
    return (
      <JobsView
        state={state}
        trans={this.trans}
        actions={this._actions}
        now={Date.now() / 1000}
        busy={this._busy}
      />
    );
  }

  /**
   * Ask with a warning dialog (Cancel, or `ask.action`); once accepted, run
   * `act` with `job` busy. Resolves true when `act` succeeded.
   */
  private async _confirmThen(
    job: IJob,
    ask: { title: string; body: string; action: string },
    act: () => Promise<void>,
    failure: string
  ): Promise<boolean> {
    const answer = await showDialog({
      title: ask.title,
      body: ask.body,
      buttons: [
        Dialog.cancelButton({ label: this.trans.__('Cancel') }),
        Dialog.warnButton({ label: ask.action })
      ]
    });
    if (!answer.button.accept) {
      return false;
    }
    return this._busyWhile(
      job,
      async () => {
        await act();
        return true;
      },
      failure
    );
  }

  private async _busyWhile(
    job: IJob,
    action: () => Promise<boolean>,
    failure: string
  ): Promise<boolean> {
    this._busy.add(job.submission_id);
    this.update();
    try {
      return await action();
    } catch (error) {
      await showErrorMessage(failure, error as Error);
      void this.model.refresh();
      return false;
    } finally {
      this._busy.delete(job.submission_id);
      this.update();
    }
  }

  private _actions: IJobActions;
  private _api: RayDevAPI;
  private _busy = new Set<string>();
  private _options: JobsPanel.IOptions;
}

export namespace JobsPanel {
  export interface IOptions {
    api: RayDevAPI;
    translator: ITranslator;
    refreshInterval?: number;
    /** Open a file of the Jupyter root (the job's source link). */
    openFile: (path: string) => void;
    /** Open the log viewer of a job. */
    openLogs: (jobId: string) => void;
    /** Open a job's page of the Ray dashboard (absent: no such button). */
    openDashboard?: (jobId: string) => void;
  }
}
