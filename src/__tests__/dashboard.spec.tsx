/**
 * The Ray dashboard inside Lab, in jsdom with the API client stubbed: the
 * proxied URLs, the Lab tab, the cluster section's links and metrics line, and
 * the jobs list's "View in dashboard". The Python tests cover the proxy itself
 * and the Galata test loads the real dashboard through it in Chromium.
 */
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  DashboardPages,
  RayDevAPI,
  type IClusterMetrics,
  type IClusterSummary
} from '../api';
import { opensBrowserTab } from '../cluster/components';
import { ClusterPanel } from '../cluster/panel';
import { DashboardWidget } from '../dashboard/widget';
import { JobsPanel } from '../jobs/panel';
import { cluster } from './fixtures';
import { waitFor } from './wait';
import { job } from './jobs-fixtures';

const trans = nullTranslator.load('jupyter_ray_dev');

function q(root: Element, testId: string): HTMLElement | null {
  return root.querySelector(`[data-testid="${testId}"]`);
}

describe('RayDevAPI dashboard URLs', () => {
  const api = (options: Partial<ServerConnection.ISettings> = {}) =>
    new RayDevAPI({
      serverSettings: ServerConnection.makeSettings({
        baseUrl: 'http://localhost:8888/user/me/',
        ...options
      })
    });

  it('points at the dashboard proxied under the base URL', () => {
    expect(api().dashboardUrl()).toBe(
      'http://localhost:8888/user/me/ray-dev/dashboard/'
    );
    expect(api().dashboardUrl(DashboardPages.metrics)).toBe(
      'http://localhost:8888/user/me/ray-dev/dashboard/#/metrics'
    );
    expect(api().dashboardUrl(DashboardPages.job('raysubmit_a b'))).toBe(
      'http://localhost:8888/user/me/ray-dev/dashboard/#/jobs/raysubmit_a%20b'
    );
  });

  it('carries the token only where cookies are not usable, as WebSockets do', () => {
    expect(
      api({ token: 'secret', appendToken: false }).dashboardUrl()
    ).not.toContain('secret');
    expect(
      api({ token: 'secret', appendToken: true }).dashboardUrl('metrics')
    ).toBe(
      'http://localhost:8888/user/me/ray-dev/dashboard/?token=secret#/metrics'
    );
  });
});

describe('DashboardWidget', () => {
  let widget: DashboardWidget | null = null;
  afterEach(() => {
    widget?.dispose();
    widget = null;
  });

  it('frames the proxied dashboard, sandboxed to what it needs, and navigates', () => {
    widget = new DashboardWidget({
      trans,
      page: 'jobs/raysubmit_1',
      urlOf: page => `/base/ray-dev/dashboard/#/${page}`
    });
    Widget.attach(widget, document.body);
    const frame = widget.node.querySelector('iframe')!;
    expect(frame.getAttribute('src')).toBe(
      '/base/ray-dev/dashboard/#/jobs/raysubmit_1'
    );
    const sandbox = frame.getAttribute('sandbox')!.split(' ');
    expect(sandbox).toEqual(
      expect.arrayContaining(['allow-scripts', 'allow-same-origin'])
    );
    expect(sandbox).not.toContain('allow-top-navigation');
    expect(widget.page).toBe('jobs/raysubmit_1');

    widget.navigate('metrics');
    expect(frame.getAttribute('src')).toBe('/base/ray-dev/dashboard/#/metrics');
    expect(widget.page).toBe('metrics');
    expect(widget.title.label).toBe('Ray Dashboard');
  });
});

describe('The cluster section and the dashboard', () => {
  let panel: ClusterPanel | null = null;
  afterEach(() => {
    panel?.dispose();
    panel = null;
  });

  function open(
    metrics: IClusterMetrics,
    openDashboard: (page: string) => void
  ): ClusterPanel {
    const summary: IClusterSummary = {
      ...cluster(),
      dashboard_url: '/user/me/ray-dev/dashboard/'
    };
    const api = {
      getCluster: () => Promise.resolve(summary),
      getClusterMetrics: () => Promise.resolve(metrics),
      getKubernetes: () =>
        Promise.resolve({
          in_kubernetes: false,
          message: 'no',
          raycluster: null
        })
    } as unknown as RayDevAPI;
    panel = new ClusterPanel({
      api,
      translator: nullTranslator,
      openDashboard
    });
    Widget.attach(panel, document.body);
    return panel;
  }

  it('opens the dashboard in a Lab tab, or a browser tab on request', async () => {
    const openDashboard = jest.fn();
    const p = open(
      { available: false, grafana_host: null, message: 'no Grafana' },
      openDashboard
    );
    await waitFor(() => !!q(p.node, 'ray-dashboard-link'));
    const link = q(p.node, 'ray-dashboard-link') as HTMLAnchorElement;
    expect(link.getAttribute('href')).toBe('/user/me/ray-dev/dashboard/');

    const plain = new MouseEvent('click', { bubbles: true, cancelable: true });
    link.dispatchEvent(plain);
    expect(openDashboard).toHaveBeenCalledWith('');
    expect(plain.defaultPrevented).toBe(true);

    const withCtrl = new MouseEvent('click', {
      bubbles: true,
      cancelable: true,
      ctrlKey: true
    });
    link.dispatchEvent(withCtrl);
    expect(openDashboard).toHaveBeenCalledTimes(1);
    expect(withCtrl.defaultPrevented).toBe(false); // the browser opens a tab

    const browser = q(p.node, 'ray-dashboard-browser') as HTMLAnchorElement;
    expect(browser.getAttribute('href')).toBe('/user/me/ray-dev/dashboard/');
    expect(browser.target).toBe('_blank');
  });

  it('says why there are no metrics', async () => {
    const p = open(
      {
        available: false,
        grafana_host: null,
        message: 'The Ray dashboard has no Grafana. Set RAY_GRAFANA_HOST.'
      },
      jest.fn()
    );
    await waitFor(() => !!q(p.node, 'ray-metrics-unavailable'));
    expect(q(p.node, 'ray-metrics-unavailable')!.textContent).toContain(
      'RAY_GRAFANA_HOST'
    );
    expect(q(p.node, 'ray-metrics-link')).toBeNull();
  });

  it('links the Metrics page when the dashboard has Grafana', async () => {
    const openDashboard = jest.fn();
    const p = open(
      {
        available: true,
        grafana_host: 'http://grafana:3000',
        message: 'from http://grafana:3000'
      },
      openDashboard
    );
    await waitFor(() => !!q(p.node, 'ray-metrics-link'));
    q(p.node, 'ray-metrics-link')!.click();
    expect(openDashboard).toHaveBeenCalledWith('metrics');
  });
});

describe('opensBrowserTab', () => {
  const click = { ctrlKey: false, metaKey: false, shiftKey: false, button: 0 };
  it('leaves modified and middle clicks to the browser', () => {
    expect(opensBrowserTab(click)).toBe(false);
    expect(opensBrowserTab({ ...click, metaKey: true })).toBe(true);
    expect(opensBrowserTab({ ...click, shiftKey: true })).toBe(true);
    expect(opensBrowserTab({ ...click, button: 1 })).toBe(true);
  });
});

describe('The jobs list and the dashboard', () => {
  it("offers each job's page in the dashboard", async () => {
    const openDashboard = jest.fn();
    const panel = new JobsPanel({
      api: {
        listJobs: () =>
          Promise.resolve([
            job({ submission_id: 'known' }),
            job({ submission_id: 'gone', known_to_ray: false, status: null })
          ])
      } as unknown as RayDevAPI,
      translator: nullTranslator,
      openLogs: jest.fn(),
      openFile: jest.fn(),
      openDashboard
    });
    Widget.attach(panel, document.body);
    try {
      await waitFor(
        () =>
          panel.node.querySelectorAll('[data-testid="ray-job"]').length === 2
      );
      const row = (id: string) =>
        panel.node.querySelector(`[data-job-id="${id}"]`)!;
      const known = q(row('known'), 'ray-job-dashboard') as HTMLButtonElement;
      expect(known.title).toBe('View in dashboard');
      known.click();
      expect(openDashboard).toHaveBeenCalledWith('known');
      // a job Ray no longer knows has no page there
      expect(
        (q(row('gone'), 'ray-job-dashboard') as HTMLButtonElement).disabled
      ).toBe(true);
    } finally {
      panel.dispose();
    }
  });
});
