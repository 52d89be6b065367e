/**
 * The cluster section rendered in jsdom, with the API client stubbed (jest has
 * no Jupyter server; the Galata tests cover the real one).
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ApiError, type IClusterSummary, type RayDevAPI } from '../api';
import { ClusterPanel } from '../cluster/panel';
import { DEFAULT_REFRESH_INTERVAL, MAX_BACKOFF_INTERVAL } from '../polling';
import { cluster, node, UNREACHABLE_BODY } from './fixtures';
import { waitFor } from './wait';

function stubApi(getCluster: () => Promise<IClusterSummary>): RayDevAPI {
  const getKubernetes = () =>
    Promise.resolve({
      in_kubernetes: false,
      message: 'Not in K8s',
      raycluster: null
    });
  return { getCluster, getKubernetes } as unknown as RayDevAPI;
}

function query(panel: Widget, testId: string): HTMLElement | null {
  return panel.node.querySelector(`[data-testid="${testId}"]`);
}

describe('ClusterPanel', () => {
  let panel: ClusterPanel | undefined;

  afterEach(() => {
    panel?.dispose();
  });

  function open(getCluster: () => Promise<IClusterSummary>): ClusterPanel {
    panel = new ClusterPanel({
      api: stubApi(getCluster),
      translator: nullTranslator
    });
    Widget.attach(panel, document.body);
    return panel;
  }

  it('shows versions, resources, nodes and the dashboard link', async () => {
    const data = cluster({
      dashboard_url: 'https://ray.example.com/dashboard',
      nodes: [
        node({ node_id: 'w', node_ip: '10.0.0.2' }),
        ...cluster().nodes,
        node({ node_id: 'x', node_ip: '10.0.0.3', state: 'DEAD' })
      ],
      alive_nodes: 2,
      dead_nodes: 1
    });
    const widget = open(async () => data);
    await waitFor(() => query(widget, 'ray-node-count') !== null);

    expect(query(widget, 'ray-version')!.textContent).toBe('2.60.0');
    expect(query(widget, 'ray-python-version')!.textContent).toBe('3.11.7');
    expect(query(widget, 'ray-kuberay')!.textContent).toBe(
      'Not running in KubeRay'
    );
    expect(query(widget, 'ray-node-count')!.textContent).toBe(
      '2 alive, 1 dead'
    );

    const cpu = query(widget, 'ray-resource-CPU')!;
    expect(cpu.querySelector('.jp-RayDev-used')!.textContent).toBe('0.5');
    expect(cpu.querySelector('.jp-RayDev-total')!.textContent).toBe('2');
    expect(
      cpu.querySelector('[role="progressbar"]')!.getAttribute('aria-valuenow')
    ).toBe('25');
    const names = [
      ...widget.node.querySelectorAll<HTMLElement>('.jp-RayDev-resource')
    ].map(row => row.dataset.resource);
    expect(names).toEqual([
      'CPU',
      'GPU',
      'memory',
      'object_store_memory',
      'my_custom'
    ]);

    const rows = [
      ...widget.node.querySelectorAll<HTMLElement>('[data-testid="ray-node"]')
    ];
    expect(rows.map(row => row.dataset.state)).toEqual([
      'ALIVE',
      'ALIVE',
      'DEAD'
    ]);
    expect(
      rows[0].querySelector('[data-testid="ray-head-badge"]')
    ).not.toBeNull();

    const link = query(widget, 'ray-dashboard-link') as HTMLAnchorElement;
    expect(link.href).toBe('https://ray.example.com/dashboard');
    expect(link.target).toBe('_blank');
    expect(link.rel).toContain('noopener');
  });

  it('names the KubeRay cluster when there is one', async () => {
    const widget = open(async () =>
      cluster({
        kuberay: {
          cluster_name: 'raycluster-dev',
          namespace: 'team-a',
          pod_name: 'raycluster-dev-head-abcde'
        }
      })
    );
    await waitFor(() => query(widget, 'ray-kuberay') !== null);
    expect(query(widget, 'ray-kuberay')!.textContent).toBe(
      'team-a/raycluster-dev · raycluster-dev-head-abcde'
    );
  });

  it("shows the server's message in an alert, then recovers", async () => {
    let down = true;
    const widget = open(async () => {
      if (down) {
        throw new ApiError({ status: 503, ...UNREACHABLE_BODY });
      }
      return cluster();
    });
    await waitFor(() => query(widget, 'ray-error') !== null);
    const alert = query(widget, 'ray-error')!;
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toContain('Cannot reach the Ray dashboard');
    expect(alert.querySelector('code')!.textContent).toBe('ray start --head');
    expect(query(widget, 'ray-node-count')).toBeNull();

    down = false;
    (query(widget, 'ray-retry') as HTMLButtonElement).click();
    await waitFor(() => query(widget, 'ray-node-count') !== null);
    expect(query(widget, 'ray-error')).toBeNull();
  });

  it('shows a loading state until the first answer', async () => {
    const widget = open(() => new Promise(() => undefined));
    await waitFor(() => query(widget, 'ray-loading') !== null);
    expect(query(widget, 'ray-cluster')!.getAttribute('aria-busy')).toBe(
      'true'
    );
  });

  it('stops polling when disposed', async () => {
    jest.useFakeTimers();
    try {
      const getCluster = jest.fn(async () => cluster());
      const widget = open(getCluster);
      await jest.advanceTimersByTimeAsync(100); // the first tick: at once, on a frame
      expect(getCluster).toHaveBeenCalledTimes(1);
      // polling runs under these timers: one more call per interval
      await jest.advanceTimersByTimeAsync(DEFAULT_REFRESH_INTERVAL);
      expect(getCluster).toHaveBeenCalledTimes(2);
      widget.dispose();
      expect(widget.model.isDisposed).toBe(true);
      await jest.advanceTimersByTimeAsync(10 * MAX_BACKOFF_INTERVAL);
      expect(getCluster).toHaveBeenCalledTimes(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
