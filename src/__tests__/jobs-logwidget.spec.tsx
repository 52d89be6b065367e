/**
 * The job log tab's toolbar badge follows the stream whenever its messages
 * arrive: a tab restored after a page reload connects at once, and for a
 * finished job `status` and `end` can come before the toolbar is attached or
 * before React has mounted the badge.
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { RayDevAPI } from '../api';
import type { IWebSocketLike } from '../jobs/logstream';
import { JobLogWidget } from '../jobs/logviewer';

class FakeSocket implements IWebSocketLike {
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  close(): void {
    // the stream closes it after `end`
  }
  send(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

const trans = nullTranslator.load('jupyter_ray_dev');
const tick = (ms = 0): Promise<void> => new Promise(r => setTimeout(r, ms));

function widgetWithSocket(): { widget: JobLogWidget; socket: FakeSocket } {
  const sockets: FakeSocket[] = [];
  const api = {
    connectJobLogs: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    }
  } as unknown as RayDevAPI;
  const widget = new JobLogWidget({ api, jobId: 'raysubmit_done', trans });
  return { widget, socket: sockets[0] };
}

function finish(socket: FakeSocket): void {
  socket.onopen?.({});
  socket.send({ type: 'lines', n: 0, lines: ['hello'] });
  socket.send({
    type: 'status',
    status: 'SUCCEEDED',
    message: null,
    error_type: null
  });
  socket.send({
    type: 'end',
    status: 'SUCCEEDED',
    message: 'Job finished successfully.',
    error_type: null
  });
}

async function badgeOf(widget: JobLogWidget): Promise<string | null> {
  // React 18 commits asynchronously: give it a few turns
  for (let i = 0; i < 20; i++) {
    await tick(5);
  }
  const badge = widget.node.querySelector('[data-testid="ray-job-status"]');
  return badge?.getAttribute('data-status') ?? null;
}

describe('JobLogWidget status badge', () => {
  let widget: JobLogWidget | null = null;
  afterEach(() => {
    widget?.dispose();
    widget = null;
  });

  it('shows the final status when status and end arrive before it attaches', async () => {
    const made = widgetWithSocket();
    widget = made.widget;
    finish(made.socket);

    Widget.attach(widget, document.body);

    expect(await badgeOf(widget)).toBe('SUCCEEDED');
    expect(widget.content.node.textContent).toContain('job finished');
  });

  it('shows the final status when they arrive between attach and the first render', async () => {
    const made = widgetWithSocket();
    widget = made.widget;
    Widget.attach(widget, document.body);
    finish(made.socket); // before React has mounted the badge

    expect(await badgeOf(widget)).toBe('SUCCEEDED');
  });

  it('follows later changes too', async () => {
    const made = widgetWithSocket();
    widget = made.widget;
    Widget.attach(widget, document.body);
    expect(await badgeOf(widget)).toBe('UNKNOWN'); // nothing heard yet
    made.socket.onopen?.({});
    made.socket.send({
      type: 'status',
      status: 'RUNNING',
      message: null,
      error_type: null
    });
    expect(await badgeOf(widget)).toBe('RUNNING');
    made.socket.send({
      type: 'end',
      status: 'FAILED',
      message: 'boom',
      error_type: null
    });
    expect(await badgeOf(widget)).toBe('FAILED');
  });
});
