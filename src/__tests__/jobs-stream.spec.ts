/**
 * The live log stream against a fake WebSocket (jest has no server; the
 * Galata test streams a real job, and the Python tests cut Ray's stream).
 */
import { JobLogStream, type IWebSocketLike } from '../jobs/logstream';

class FakeSocket implements IWebSocketLike {
  constructor(readonly from: number) {}
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  closed = false;
  open(): void {
    this.onopen?.({});
  }
  send(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(): void {
    this.closed = true;
    this.onclose?.({});
  }
  close(): void {
    this.closed = true;
  }
}

const tick = (ms = 0): Promise<void> => new Promise(r => setTimeout(r, ms));

function streamWith(): { stream: JobLogStream; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  const stream = new JobLogStream({
    jobId: 'raysubmit_1',
    connect: from => {
      const socket = new FakeSocket(from);
      sockets.push(socket);
      return socket;
    },
    reconnectDelays: [1, 1]
  });
  return { stream, sockets };
}

const line = (n: number): any => ({ type: 'lines', n, lines: [`line ${n}`] });
const errorFrame = (code: number, reason: string, message: string) => ({
  type: 'error',
  code,
  reason,
  message
});

describe('JobLogStream', () => {
  it('keeps lines in order and stops at end', async () => {
    const { stream, sockets } = streamWith();
    const added: number[] = [];
    stream.linesAdded.connect((_, from) => added.push(from));
    sockets[0].open();
    expect(stream.state.connected).toBe(true);
    sockets[0].send({
      type: 'status',
      status: 'RUNNING',
      message: null,
      error_type: null
    });
    expect(stream.state.status).toBe('RUNNING');
    sockets[0].send(line(0));
    sockets[0].send(line(1));
    await tick();
    expect(added).toEqual([0]); // one signal per burst
    sockets[0].send({
      type: 'end',
      status: 'SUCCEEDED',
      message: 'ok',
      error_type: null
    });
    expect(stream.lines).toEqual(['line 0', 'line 1']);
    expect(stream.state).toMatchObject({
      status: 'SUCCEEDED',
      done: true,
      connected: false
    });
    expect(sockets[0].closed).toBe(true);
    sockets[0].drop();
    await tick(10);
    expect(sockets).toHaveLength(1); // no reconnect after end
    stream.dispose();
  });

  it('reconnects from the next line after a drop, without repeats', async () => {
    const { stream, sockets } = streamWith();
    sockets[0].open();
    sockets[0].send(line(0));
    sockets[0].send(line(1));
    sockets[0].drop();
    expect(stream.state.connected).toBe(false);
    await tick(10);
    expect(sockets).toHaveLength(2);
    expect(sockets[1].from).toBe(2);
    sockets[1].open();
    sockets[1].send(line(1)); // a repeat: ignored
    sockets[1].send(line(2));
    expect(stream.lines).toEqual(['line 0', 'line 1', 'line 2']);
    stream.dispose();
    expect(sockets[1].closed).toBe(true);
  });

  it('keeps only the new part of a batch that overlaps what is shown', async () => {
    const { stream, sockets } = streamWith();
    sockets[0].open();
    sockets[0].send({ type: 'lines', n: 0, lines: ['a', 'b'] });
    sockets[0].send({ type: 'lines', n: 1, lines: ['b', 'c', 'd'] });
    sockets[0].send({ type: 'lines', n: 0, lines: ['a'] }); // all repeats
    expect(stream.lines).toEqual(['a', 'b', 'c', 'd']);
    stream.dispose();
  });

  it('restarts from the first missing line on a gap', async () => {
    const { stream, sockets } = streamWith();
    sockets[0].send(line(0));
    sockets[0].send(line(2));
    expect(stream.lines).toEqual(['line 0']);
    expect(sockets[0].closed).toBe(true);
    expect(sockets[1].from).toBe(1);
    stream.dispose();
  });

  it('gives up on unknown jobs and retries while Ray is down', async () => {
    const { stream, sockets } = streamWith();
    sockets[0].send(errorFrame(503, 'ray_unreachable', 'Ray down'));
    expect(stream.state).toMatchObject({ error: 'Ray down', done: false });
    await tick(10);
    expect(sockets).toHaveLength(2);
    sockets[1].send(errorFrame(404, 'not_found', 'No job'));
    expect(stream.state).toMatchObject({ error: 'No job', done: true });
    await tick(10);
    expect(sockets).toHaveLength(2);
    stream.dispose();
  });
});
