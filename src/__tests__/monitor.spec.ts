/**
 * Polling behaviour of the cluster panel's model. The fetch function is a
 * stub (jest has no server): the poll's schedule, state transitions and
 * recovery are what is under test.
 */
import { ApiError, type IClusterSummary } from '../api';
import {
  ClusterMonitor,
  frequencyFor,
  type IClusterState
} from '../cluster/monitor';
import { cluster, UNREACHABLE_BODY } from './fixtures';

const unreachable = (): ApiError =>
  new ApiError({ status: 503, ...UNREACHABLE_BODY });

/** Resolves with the next state the monitor emits. */
function nextState(monitor: ClusterMonitor): Promise<IClusterState> {
  return new Promise(resolve => {
    const once = (_: ClusterMonitor, state: IClusterState): void => {
      monitor.changed.disconnect(once);
      resolve(state);
    };
    monitor.changed.connect(once);
  });
}

describe('ClusterMonitor', () => {
  let monitor: ClusterMonitor | undefined;

  afterEach(() => {
    monitor?.dispose();
  });

  it('starts loading, then holds the summary', async () => {
    monitor = new ClusterMonitor({
      fetch: async () => cluster(),
      auto: false
    });
    expect(monitor.state).toMatchObject({
      loading: true,
      cluster: null,
      error: null
    });
    const state = nextState(monitor);
    await monitor.start();
    expect(await state).toMatchObject({ loading: false, error: null });
    expect(monitor.state.cluster?.alive_nodes).toBe(1);
    expect(monitor.state.updated).toBeInstanceOf(Date);
  });

  it('shows the error while Ray is down and recovers by itself', async () => {
    const answers: Array<() => Promise<IClusterSummary>> = [
      () => Promise.reject(unreachable()),
      () => Promise.resolve(cluster())
    ];
    monitor = new ClusterMonitor({
      fetch: () => answers.shift()!(),
      auto: false
    });

    let state = nextState(monitor);
    await monitor.start();
    expect(await state).toMatchObject({ cluster: null, loading: false });
    expect(monitor.state.error?.reason).toBe('ray_unreachable');
    expect(monitor.state.error?.message).toContain('ray start --head');

    // The next attempt, here forced instead of waiting for the backoff.
    state = nextState(monitor);
    await monitor.refresh();
    expect((await state).error).toBeNull();
    expect(monitor.state.cluster).not.toBeNull();
  });

  it('wraps unexpected failures as network errors', async () => {
    monitor = new ClusterMonitor({
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
      auto: false
    });
    const state = nextState(monitor);
    await monitor.start();
    expect((await state).error).toMatchObject({
      status: 0,
      reason: 'network_error'
    });
  });

  it('does not fetch while the panel is hidden', async () => {
    const fetch = jest.fn(async () => cluster());
    monitor = new ClusterMonitor({
      fetch,
      isVisible: () => false,
      auto: false
    });
    await monitor.start();
    await monitor.refresh();
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(fetch).not.toHaveBeenCalled();
    expect(monitor.state.loading).toBe(true);
  });

  it('applies a new refresh interval', () => {
    monitor = new ClusterMonitor({ fetch: async () => cluster(), auto: false });
    expect(monitor.interval).toBe(5000);
    monitor.interval = 120000;
    expect(monitor.interval).toBe(120000);
  });

  it('stops emitting once disposed', async () => {
    const fetch = jest.fn(async () => cluster());
    monitor = new ClusterMonitor({ fetch, auto: false });
    monitor.dispose();
    expect(monitor.isDisposed).toBe(true);
    await monitor.refresh();
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('frequencyFor', () => {
  it('backs off up to a minute', () => {
    expect(frequencyFor(5000)).toEqual({
      interval: 5000,
      backoff: true,
      max: 60000
    });
  });

  it('raises the ceiling for slow refresh intervals and floors fast ones', () => {
    expect(frequencyFor(120000).max).toBe(120000);
    expect(frequencyFor(10).interval).toBe(1000);
  });
});
