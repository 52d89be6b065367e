import {
  Dialog,
  MainAreaWidget,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  downloadIcon,
  fileUploadIcon,
  ReactWidget,
  stopIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { ApiError } from '../api';
import type { ISavedLog, RayDevAPI } from '../api';
import { ansiToRuns, stripAnsi } from './ansi';
import { StatusBadge } from './components';
import { isActive } from './model';
import { JobLogStream } from './logstream';
import { rayIcon } from '../icons';

/** Lines within this many pixels of the bottom count as "at the bottom". */
const BOTTOM_SLACK = 8;

/**
 * The scrolling log of one job: lines are appended to the DOM as they arrive
 * (no re-render of what is there), coloured from their ANSI codes. Follows
 * the end unless the user scrolls up (or presses Pause); a search box keeps
 * only the lines that contain the text.
 */
export class JobLogView extends Widget {
  constructor(options: JobLogView.IOptions) {
    super();
    this.addClass('jp-RayDev-logView');
    this.stream = options.stream;
    this._trans = options.trans;
    const output = document.createElement('div');
    output.className = 'jp-RenderedText jp-RayDev-logOutput';
    this._pre = document.createElement('pre');
    this._pre.setAttribute('data-testid', 'ray-log-lines');
    output.appendChild(this._pre);
    this._status = document.createElement('div');
    this._status.className = 'jp-RayDev-logStatus';
    this.node.appendChild(output);
    this.node.appendChild(this._status);
    this.node.addEventListener('scroll', this._onScroll, { passive: true });

    this.stream.linesAdded.connect(this._onLines, this);
    this.stream.stateChanged.connect(this._onState, this);
    this._append(0);
    this._onState();
  }

  readonly stream: JobLogStream;

  /** Whether the view sticks to the newest line. */
  get follow(): boolean {
    return this._follow;
  }
  set follow(value: boolean) {
    if (this._follow === value) {
      return;
    }
    this._follow = value;
    if (value) {
      this._scrollToEnd();
    }
    this.followChanged?.(value);
  }

  /** Called when following turns on or off (the toolbar toggle listens). */
  followChanged: ((follow: boolean) => void) | null = null;

  /** Keep only lines containing `query` (case-insensitive); `''` shows all. */
  get query(): string {
    return this._query;
  }
  set query(value: string) {
    this._query = value;
    this._needle = value.toLowerCase();
    let matches = 0;
    const children = this._pre.children;
    for (let i = 0; i < children.length; i++) {
      if (this._applyQuery(children[i] as HTMLElement, i)) {
        matches++;
      }
    }
    this._matches = matches;
    this._renderStatus();
    if (this._follow) {
      this._scrollToEnd();
    }
  }

  /** Lines matching the query (all lines without one). */
  get matches(): number {
    return this._query ? this._matches : this.stream.lines.length;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('scroll', this._onScroll);
    this.stream.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._follow) {
      this._scrollToEnd();
    }
  }

  private _onLines(_: JobLogStream, from: number): void {
    this._append(from);
  }

  private _append(from: number): void {
    const lines = this.stream.lines;
    const fragment = document.createDocumentFragment();
    for (
      let n = Math.max(from, this._pre.children.length);
      n < lines.length;
      n++
    ) {
      const div = document.createElement('div');
      div.className = 'jp-RayDev-logLine';
      div.dataset.n = String(n);
      for (const run of ansiToRuns(lines[n])) {
        if (!run.className && !run.style.color && !run.style.backgroundColor) {
          div.appendChild(document.createTextNode(run.text));
          continue;
        }
        const span = document.createElement('span');
        span.className = run.className;
        if (run.style.color) {
          span.style.color = run.style.color;
        }
        if (run.style.backgroundColor) {
          span.style.backgroundColor = run.style.backgroundColor;
        }
        span.textContent = run.text;
        div.appendChild(span);
      }
      if (this._applyQuery(div, n)) {
        this._matches++;
      }
      fragment.appendChild(div);
    }
    this._pre.appendChild(fragment);
    this._renderStatus();
    if (this._follow) {
      this._scrollToEnd();
    }
  }

  /** Show or hide one line for the query; true when it matches. */
  private _applyQuery(div: HTMLElement, n: number): boolean {
    if (!this._needle) {
      div.classList.remove('jp-mod-hidden');
      return true;
    }
    const match = stripAnsi(this.stream.lines[n] ?? '')
      .toLowerCase()
      .includes(this._needle);
    div.classList.toggle('jp-mod-hidden', !match);
    return match;
  }

  private _onState(): void {
    this._renderStatus();
  }

  private _renderStatus(): void {
    const state = this.stream.state;
    const trans = this._trans;
    const count = this.stream.lines.length;
    let text: string;
    if (state.done) {
      text = trans._n(
        '%1 line · job finished',
        '%1 lines · job finished',
        count
      );
    } else if (state.connected) {
      text = trans._n(
        '%1 line · following live',
        '%1 lines · following live',
        count
      );
    } else {
      text = trans._n('%1 line · connecting…', '%1 lines · connecting…', count);
    }
    if (this._query) {
      text += ' · ' + trans._n('%1 match', '%1 matches', this._matches);
    }
    if (state.error) {
      text += ` · ${state.error}`;
    }
    this._status.textContent = text;
    this._status.classList.toggle('jp-mod-error', !!state.error);
    this._status.dataset.done = String(state.done);
  }

  private _scrollToEnd(): void {
    this._autoScrolling = true;
    this.node.scrollTop = this.node.scrollHeight;
    requestAnimationFrame(() => {
      this._autoScrolling = false;
    });
  }

  private _onScroll = (): void => {
    if (this._autoScrolling) {
      return;
    }
    const node = this.node;
    const atBottom =
      node.scrollHeight - node.scrollTop - node.clientHeight <= BOTTOM_SLACK;
    // Scrolling up pauses following; scrolling back to the end resumes it.
    this.follow = atBottom;
  };

  private _autoScrolling = false;
  private _follow = true;
  private _matches = 0;
  private _needle = '';
  private _pre: HTMLPreElement;
  private _query = '';
  private _status: HTMLDivElement;
  private _trans: TranslationBundle;
}

export namespace JobLogView {
  export interface IOptions {
    stream: JobLogStream;
    trans: TranslationBundle;
  }
}

/**
 * The toolbar's live status badge. It re-renders from the stream's current
 * state on every change: a restored tab's stream may hear `status` and `end`
 * before the badge is mounted, and a signal emitted then would be lost.
 */
class StatusItem extends ReactWidget {
  constructor(
    private _stream: JobLogStream,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-RayDev-logBadge');
    _stream.stateChanged.connect(() => this.update(), this);
  }
  protected render(): JSX.Element {
    return (
      <StatusBadge status={this._stream.state.status} trans={this._trans} />
    );
  }
}

/** The toolbar's search box and follow toggle. */
class LogControls extends ReactWidget {
  constructor(
    private _view: JobLogView,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-RayDev-logControls');
    _view.followChanged = () => this.update();
  }
  protected render(): JSX.Element {
    const trans = this._trans;
    const view = this._view;
    return (
      <>
        <input
          type="search"
          className="jp-mod-styled jp-RayDev-logSearch"
          placeholder={trans.__('Search log')}
          aria-label={trans.__('Search log')}
          data-testid="ray-log-search"
          defaultValue={view.query}
          onChange={event => {
            view.query = event.currentTarget.value;
          }}
        />
        <label
          className="jp-RayDev-logFollow"
          title={trans.__('Scroll with new lines')}
        >
          <input
            type="checkbox"
            data-testid="ray-log-follow"
            checked={view.follow}
            onChange={event => {
              view.follow = event.currentTarget.checked;
              this.update();
            }}
          />
          {trans.__('Follow')}
        </label>
      </>
    );
  }
}

/**
 * A main-area tab with one job's live log: status badge, search, follow,
 * download the full log, stop.
 */
export class JobLogWidget extends MainAreaWidget<JobLogView> {
  constructor(options: JobLogWidget.IOptions) {
    const trans = options.trans;
    const stream = new JobLogStream({
      jobId: options.jobId,
      connect: from => options.api.connectJobLogs(options.jobId, from)
    });
    const content = new JobLogView({ stream, trans });
    super({ content });
    this.jobId = options.jobId;
    this.id = `jupyter-ray-dev:job-log:${options.jobId}`;
    this.addClass('jp-RayDev-logWidget');
    this.title.label = options.label ?? options.jobId;
    this.title.caption = trans.__('Log of Ray job %1', options.jobId);
    this.title.icon = rayIcon;
    this.title.closable = true;

    this.toolbar.addItem('status', new StatusItem(stream, trans));
    this.toolbar.addItem('controls', new LogControls(content, trans));
    this.toolbar.addItem(
      'download',
      new ToolbarButton({
        icon: downloadIcon,
        tooltip: trans.__('Download the full log'),
        dataset: { 'data-testid': 'ray-log-download' },
        onClick: () => void this.download(options.api, trans)
      })
    );
    const save = new ToolbarButton({
      icon: fileUploadIcon,
      tooltip: trans.__('Save log to storage (it outlives the cluster)'),
      dataset: { 'data-testid': 'ray-log-save' },
      enabled: false,
      onClick: () => void this.saveToStorage(options.api, trans)
    });
    this.toolbar.addItem('save', save);
    const stop = new ToolbarButton({
      icon: stopIcon,
      tooltip: trans.__('Stop this job'),
      dataset: { 'data-testid': 'ray-log-stop' },
      enabled: false,
      onClick: () => void options.stop?.(options.jobId)
    });
    this.toolbar.addItem('stop', stop);
    const syncStop = (): void => {
      stop.enabled = !!options.stop && isActive(stream.state.status);
      // a finished job's log only: a running one would be saved half-written
      save.enabled = !!stream.state.status && !isActive(stream.state.status);
    };
    stream.stateChanged.connect(syncStop);
    stream.stateChanged.connect((_, state) => {
      if (state.done) {
        options.onDone?.(options.jobId);
      }
    });
  }

  readonly jobId: string;

  /**
   * Copy the finished job's log into a storage root on the server, byte for
   * byte: where the user says (a storage URI), else the artifacts root.
   */
  async saveToStorage(api: RayDevAPI, trans: TranslationBundle): Promise<void> {
    const answer = await showDialog({
      title: trans.__('Save log to storage'),
      body: new SaveLogBody(
        trans.__(
          'Storage URI (s3://…, gs://…, root:path; a folder ending in / gets %1.log). Empty: the artifacts root.',
          this.jobId
        ),
        trans.__('artifacts root, ray-dev-logs/<project>/')
      ),
      focusNodeSelector: 'input',
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Save') })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    const dest = answer.value?.trim() || null;
    try {
      let saved: ISavedLog;
      try {
        saved = await api.saveJobLog(this.jobId, dest);
      } catch (error) {
        // the server keeps an existing file unless told: ask, as the file browser does
        if (!isExistingFile(error)) {
          throw error;
        }
        const replace = await showDialog({
          title: trans.__('Replace file?'),
          body: trans.__(
            '%1 already exists. Replace it with this log?',
            String(error.details.dest ?? dest ?? '')
          ),
          buttons: [
            Dialog.cancelButton({ label: trans.__('Keep') }),
            Dialog.warnButton({ label: trans.__('Replace') })
          ]
        });
        if (!replace.button.accept) {
          return;
        }
        saved = await api.saveJobLog(this.jobId, dest, true);
      }
      Notification.success(
        trans.__('Saved the log to %1 (%2 bytes).', saved.dest, saved.bytes),
        { autoClose: 8000 }
      );
    } catch (error) {
      await showErrorMessage(
        trans.__('Cannot save the log to storage'),
        error as Error
      );
    }
  }

  /** Fetch the full log from the server and save it as `<job id>.log`. */
  async download(api: RayDevAPI, trans: TranslationBundle): Promise<void> {
    try {
      const text = await api.getJobLogs(this.jobId);
      const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = `${this.jobId}.log`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      await showErrorMessage(
        trans.__('Cannot download the log'),
        error as Error
      );
    }
  }
}

/** The server's 409 for a file already at the destination (not a folder there). */
function isExistingFile(error: unknown): error is ApiError {
  return (
    error instanceof ApiError &&
    error.status === 409 &&
    error.details.field === 'overwrite'
  );
}

/**
 * The save-log dialog's body: a text field wide enough to read a whole
 * storage URI (JupyterLab's InputDialog field is sized for a file name).
 */
class SaveLogBody extends Widget implements Dialog.IBodyWidget<string> {
  constructor(label: string, placeholder: string) {
    super();
    this.addClass('jp-RayDev-saveLogBody');
    const caption = document.createElement('label');
    caption.textContent = label;
    this._input = document.createElement('input');
    this._input.type = 'text';
    this._input.className = 'jp-mod-styled jp-RayDev-saveLogInput';
    this._input.placeholder = placeholder;
    this._input.spellcheck = false;
    this._input.dataset.testid = 'ray-log-save-dest';
    caption.appendChild(this._input);
    this.node.appendChild(caption);
  }

  getValue(): string {
    return this._input.value;
  }

  private _input: HTMLInputElement;
}

export namespace JobLogWidget {
  export interface IOptions {
    api: RayDevAPI;
    jobId: string;
    trans: TranslationBundle;
    label?: string;
    /** Stop the job (with confirmation); the toolbar's stop button. */
    stop?: (jobId: string) => void;
    /** Called once the stream ends (the jobs list refreshes). */
    onDone?: (jobId: string) => void;
  }
}
