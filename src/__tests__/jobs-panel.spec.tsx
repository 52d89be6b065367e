/**
 * The Jobs section, the run dialog and the log view rendered in jsdom, with
 * the API client stubbed (jest has no Jupyter server; the Galata test runs a
 * real job).
 */
import { Dialog } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ApiError, type IJob, type RayDevAPI } from '../api';
import { fieldOf, runJobDialog } from '../jobs/dialog';
import { JobLogStream, type IWebSocketLike } from '../jobs/logstream';
import { JobLogView } from '../jobs/logviewer';
import { JobsPanel } from '../jobs/panel';
import { DEFAULT_REFRESH_INTERVAL, MAX_BACKOFF_INTERVAL } from '../polling';
import { job } from './jobs-fixtures';
import { waitFor } from './wait';

const trans = nullTranslator.load('jupyter_ray_dev');

function q(root: Element, testId: string): HTMLElement[] {
  return Array.from(root.querySelectorAll(`[data-testid="${testId}"]`));
}

/** Accept (or reject) the dialog on screen, once it is there. */
async function answerDialog(accept: boolean): Promise<void> {
  await waitFor(() => !!document.querySelector('.jp-Dialog'));
  const buttons =
    document.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button');
  const button = accept ? buttons[buttons.length - 1] : buttons[0];
  button.click();
  await waitFor(() => !document.querySelector('.jp-Dialog'));
}

describe('JobsPanel', () => {
  let panel: JobsPanel | undefined;
  afterEach(() => {
    panel?.dispose();
    Dialog.flush();
  });

  function open(
    api: Partial<RayDevAPI>,
    extra: { openLogs?: jest.Mock; openFile?: jest.Mock } = {}
  ): JobsPanel {
    panel = new JobsPanel({
      api: api as RayDevAPI,
      translator: nullTranslator,
      openLogs: extra.openLogs ?? jest.fn(),
      openFile: extra.openFile ?? jest.fn()
    });
    Widget.attach(panel, document.body);
    return panel;
  }

  const jobs: IJob[] = [
    job({
      submission_id: 'ok',
      status: 'SUCCEEDED',
      start_time: 10,
      end_time: 22.5
    }),
    job({
      submission_id: 'bad',
      status: 'FAILED',
      start_time: 20,
      project: 'other',
      file: 'other/fail.py',
      error_type: 'JOB_ENTRYPOINT_COMMAND_ERROR',
      error_summary: 'ValueError: bad input'
    }),
    job({
      submission_id: 'run',
      status: 'RUNNING',
      start_time: 5,
      end_time: null
    }),
    job({
      submission_id: 'elsewhere',
      start_time: 1,
      file: null,
      project: null,
      launched_here: false,
      can_rerun: false
    })
  ];

  it('lists every job with badges, durations, errors and actions', async () => {
    const openFile = jest.fn();
    const openLogs = jest.fn();
    const p = open(
      { listJobs: () => Promise.resolve(jobs) },
      { openFile, openLogs }
    );
    await waitFor(() => q(p.node, 'ray-job').length === 4);
    const rows = q(p.node, 'ray-job');
    expect(rows.map(r => r.dataset.jobId)).toEqual([
      'run',
      'bad',
      'ok',
      'elsewhere'
    ]);
    expect(q(p.node, 'ray-job-status').map(b => b.textContent)).toEqual([
      'RUNNING',
      'FAILED',
      'SUCCEEDED',
      'SUCCEEDED'
    ]);
    expect(q(rows[1], 'ray-job-error')[0].textContent).toContain(
      'JOB_ENTRYPOINT_COMMAND_ERROR'
    );
    expect(q(rows[1], 'ray-job-error')[0].textContent).toContain(
      'ValueError: bad input'
    );
    expect(q(rows[2], 'ray-job-duration')[0].textContent).toBe('12s');
    // Stop only for the running job; delete only for finished ones.
    expect(q(rows[0], 'ray-job-stop')).toHaveLength(1);
    expect(q(rows[0], 'ray-job-delete')).toHaveLength(0);
    expect(q(rows[2], 'ray-job-delete')).toHaveLength(1);
    expect(q(rows[3], 'ray-job-rerun')).toHaveLength(0);

    q(rows[1], 'ray-job-file')[0].click();
    expect(openFile).toHaveBeenCalledWith('other/fail.py');
    q(rows[2], 'ray-job-logs')[0].click();
    expect(openLogs).toHaveBeenCalledWith('ok');
  });

  it('filters by status and project', async () => {
    const p = open({ listJobs: () => Promise.resolve(jobs) });
    await waitFor(() => q(p.node, 'ray-job').length === 4);
    q(p.node, 'ray-jobs-filter-FAILED')[0].click();
    await waitFor(() => q(p.node, 'ray-job').length === 1);
    expect(q(p.node, 'ray-job')[0].dataset.jobId).toBe('bad');
    expect(p.model.filter).toEqual({ statuses: ['FAILED'], project: null });
    p.model.filter = { statuses: [], project: 'proj' };
    await waitFor(() => q(p.node, 'ray-job').length === 2);
    const select = q(p.node, 'ray-jobs-project')[0] as HTMLSelectElement;
    expect(Array.from(select.options).map(o => o.value)).toEqual([
      '\u0000all',
      'other',
      'proj'
    ]);
  });

  it('stops a job only after confirmation', async () => {
    const stopJob = jest.fn(() =>
      Promise.resolve(job({ submission_id: 'run', status: 'STOPPED' }))
    );
    const p = open({ listJobs: () => Promise.resolve(jobs), stopJob });
    await waitFor(() => q(p.node, 'ray-job-stop').length === 1);

    let done = p.stop(jobs[2]);
    await answerDialog(false);
    expect(await done).toBe(false);
    expect(stopJob).not.toHaveBeenCalled();

    done = p.stop(jobs[2]);
    await answerDialog(true);
    expect(await done).toBe(true);
    expect(stopJob).toHaveBeenCalledWith('run');
    expect(
      p.model.state.jobs!.find(j => j.submission_id === 'run')!.status
    ).toBe('STOPPED');
  });

  it('deletes after confirmation and re-runs into a new log tab', async () => {
    const deleteJob = jest.fn(() => Promise.resolve());
    const rerunJob = jest.fn(() =>
      Promise.resolve({
        ...job({ submission_id: 'again', status: 'PENDING' }),
        warnings: []
      })
    );
    const openLogs = jest.fn();
    const p = open(
      { listJobs: () => Promise.resolve(jobs), deleteJob, rerunJob },
      { openLogs }
    );
    await waitFor(() => q(p.node, 'ray-job').length === 4);
    const done = p.remove(jobs[0]);
    await answerDialog(true);
    expect(await done).toBe(true);
    expect(deleteJob).toHaveBeenCalledWith('ok');
    expect(p.model.state.jobs!.map(j => j.submission_id)).not.toContain('ok');

    await p.rerun(jobs[1]);
    expect(rerunJob).toHaveBeenCalledWith('bad');
    expect(openLogs).toHaveBeenCalledWith('again');
  });

  it('shows the server error and keeps retrying', async () => {
    const error = new ApiError({
      status: 503,
      reason: 'ray_unreachable',
      message: 'Cannot reach Ray.'
    });
    jest.useFakeTimers();
    // Lumino's backoff picks each wait at random up to three times the last
    // one: the top of that range makes the schedule exact
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.999999);
    try {
      let down = true;
      const asked: number[] = [];
      const listJobs = jest.fn(() => {
        asked.push(Date.now());
        return down ? Promise.reject(error) : Promise.resolve(jobs);
      });
      const p = open({ listJobs });
      await jest.advanceTimersByTimeAsync(100);
      expect(q(p.node, 'ray-jobs-error')[0].textContent).toContain(
        'Cannot reach Ray.'
      );
      for (let second = 0; second < 400; second++) {
        await jest.advanceTimersByTimeAsync(1000);
      }
      // it keeps asking, each wait longer than the last, then once a minute
      const waits = asked.slice(1).map((t, i) => t - asked[i]);
      expect(listJobs).toHaveBeenCalledTimes(16);
      expect(waits).toEqual([...waits].sort((a, b) => a - b));
      expect(waits.slice(-5)).toEqual(Array(5).fill(MAX_BACKOFF_INTERVAL));
      expect(q(p.node, 'ray-jobs-error')).toHaveLength(1);
      // Ray is back: the next retry clears the error by itself, and polling
      // returns to its interval
      down = false;
      await jest.advanceTimersByTimeAsync(
        asked[asked.length - 1] + MAX_BACKOFF_INTERVAL - Date.now() + 100
      );
      expect(listJobs).toHaveBeenCalledTimes(17);
      expect(p.model.state.error).toBeNull();
      await jest.advanceTimersByTimeAsync(DEFAULT_REFRESH_INTERVAL - 100);
      expect(listJobs).toHaveBeenCalledTimes(18);
      // React renders on a channel these timers do not drive
      jest.useRealTimers();
      await waitFor(() => q(p.node, 'ray-jobs-error').length === 0);
      expect(q(p.node, 'ray-job')).toHaveLength(jobs.length);
    } finally {
      random.mockRestore();
      jest.useRealTimers();
    }
  });
});

describe('runJobDialog', () => {
  afterEach(() => Dialog.flush());

  function fill(name: string, value: string): void {
    const input = document.querySelector<HTMLInputElement>(
      `.jp-Dialog input[name="${name}"]`
    )!;
    const setter = Object.getOwnPropertyDescriptor(
      HTMLInputElement.prototype,
      'value'
    )!.set!;
    setter.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  it('submits args and resources, shows the environment', async () => {
    const submitJob = jest.fn(() =>
      Promise.resolve({ ...job(), warnings: [] })
    );
    const result = runJobDialog({
      api: { submitJob } as unknown as RayDevAPI,
      file: 'proj/train.py',
      trans,
      environment: () =>
        Promise.resolve({
          project: 'proj',
          runtimeEnvPath: 'proj/runtime_env.yaml',
          runtimeEnvKeys: ['pip', 'env_vars'],
          cluster: 'CPU 2/2'
        })
    });
    await waitFor(
      () => !!document.querySelector('.jp-Dialog [data-testid="ray-run-form"]')
    );
    await waitFor(() =>
      (
        document.querySelector('[data-testid="ray-run-env"]')?.textContent ?? ''
      ).includes('pip, env_vars')
    );
    expect(
      document.querySelector('[data-testid="ray-run-env"]')!.textContent
    ).toContain('CPU 2/2');
    fill('args', '--epochs 3');
    fill('cpus', '2');
    fill('memory', '1GiB');
    fill('custom', 'accel=1');
    await answerDialog(true);
    expect((await result)!.submission_id).toBe('raysubmit_abc');
    expect(submitJob).toHaveBeenCalledWith({
      file: 'proj/train.py',
      args: '--epochs 3',
      resources: { num_cpus: 2, memory: 1024 ** 3, custom: { accel: 1 } }
    });
  });

  it('re-opens with the field at fault, then with the server message', async () => {
    const submitJob = jest
      .fn()
      .mockRejectedValueOnce(
        new ApiError({
          status: 400,
          reason: 'bad_request',
          message: 'num_gpus: the cluster has no GPU.',
          details: { field: 'resources.num_gpus' }
        })
      )
      .mockResolvedValueOnce({ ...job(), warnings: [] });
    const result = runJobDialog({
      api: { submitJob } as unknown as RayDevAPI,
      file: 'a.py',
      trans
    });
    await waitFor(
      () => !!document.querySelector('.jp-Dialog input[name="cpus"]')
    );
    fill('cpus', 'many');
    await answerDialog(true);
    await waitFor(
      () => !!document.querySelector('[data-testid="ray-run-error"]')
    );
    expect(
      document.querySelector('[data-testid="ray-run-error"]')!.textContent
    ).toContain('CPUs');
    expect(
      document.querySelector<HTMLInputElement>('.jp-Dialog input[name="cpus"]')!
        .value
    ).toBe('many');
    expect(submitJob).not.toHaveBeenCalled();
    fill('cpus', '1');
    fill('gpus', '1');
    await answerDialog(true);
    await waitFor(() =>
      (
        document.querySelector('[data-testid="ray-run-error"]')?.textContent ??
        ''
      ).includes('no GPU')
    );
    expect(
      document
        .querySelector('.jp-Dialog input[name="gpus"]')!
        .getAttribute('aria-invalid')
    ).toBe('true');
    await answerDialog(true);
    expect(await result).not.toBeNull();
    expect(submitJob).toHaveBeenCalledTimes(2);
  });

  it('resolves null when cancelled', async () => {
    const submitJob = jest.fn();
    const result = runJobDialog({
      api: { submitJob } as unknown as RayDevAPI,
      file: 'a.py',
      trans
    });
    await answerDialog(false);
    expect(await result).toBeNull();
    expect(submitJob).not.toHaveBeenCalled();
  });

  it('maps server fields to form fields', () => {
    const e = (field: string): ApiError =>
      new ApiError({
        status: 400,
        reason: 'bad_request',
        message: '',
        details: { field }
      });
    expect(fieldOf(e('resources.memory'))).toBe('memory');
    expect(fieldOf(e('args'))).toBe('args');
    expect(fieldOf(e('runtime_env'))).toBeNull();
  });
});

describe('JobLogView', () => {
  it('appends coloured lines, searches, and shows the end', async () => {
    let socket: IWebSocketLike | null = null;
    const stream = new JobLogStream({
      jobId: 'j',
      connect: () => {
        socket = {
          onopen: null,
          onmessage: null,
          onclose: null,
          onerror: null,
          close: () => undefined
        };
        return socket;
      }
    });
    const view = new JobLogView({ stream, trans });
    Widget.attach(view, document.body);
    const send = (m: unknown): void =>
      socket!.onmessage!({ data: JSON.stringify(m) });
    socket!.onopen!({});
    send({
      type: 'lines',
      n: 0,
      lines: ['hello', '\x1b[31merror\x1b[0m here']
    });
    send({ type: 'lines', n: 2, lines: ['bye'] });
    await waitFor(
      () => view.node.querySelectorAll('.jp-RayDev-logLine').length === 3
    );
    expect(view.node.querySelector('.ansi-red-fg')!.textContent).toBe('error');
    expect(
      view.node.querySelector('.jp-RayDev-logStatus')!.textContent
    ).toContain('3 lines');

    view.query = 'ERROR';
    expect(view.matches).toBe(1);
    const hidden = view.node.querySelectorAll(
      '.jp-RayDev-logLine.jp-mod-hidden'
    );
    expect(hidden).toHaveLength(2);
    view.query = '';
    expect(view.node.querySelectorAll('.jp-mod-hidden')).toHaveLength(0);

    // jsdom lays nothing out: give the view a height to scroll, and watch it
    let top = 0;
    const scrolledTo: number[] = [];
    Object.defineProperty(view.node, 'scrollHeight', { get: () => 900 });
    Object.defineProperty(view.node, 'scrollTop', {
      get: () => top,
      set: (value: number) => {
        top = value;
        scrolledTo.push(value);
      }
    });
    const followChanged = jest.fn();
    view.followChanged = followChanged;
    view.follow = false; // a new line no longer scrolls the view
    send({ type: 'lines', n: 3, lines: ['while paused'] });
    await waitFor(
      () => view.node.querySelectorAll('.jp-RayDev-logLine').length === 4
    );
    expect(scrolledTo).toEqual([]);
    view.follow = true; // following again jumps to the end
    expect(scrolledTo).toEqual([900]);
    expect(followChanged.mock.calls).toEqual([[false], [true]]);

    send({ type: 'end', status: 'SUCCEEDED', message: null, error_type: null });
    expect(
      view.node.querySelector('.jp-RayDev-logStatus')!.textContent
    ).toContain('finished');
    view.dispose();
    expect(stream.isDisposed).toBe(true);
  });
});
