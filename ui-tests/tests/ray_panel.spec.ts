/**
 * The Ray panel against a real server and a real local Ray head: `jlpm start`
 * runs `python -m jupyter_ray_dev.devlab`, which starts the head and Lab.
 * Galata's server configuration disables the token and XSRF, so
 * `page.request` reaches the API directly; authentication is covered by the
 * Python tests.
 */
import * as net from 'net';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { type Locator, request, type TestInfo } from '@playwright/test';

import { keepImage } from './screenshot';

const SIDEBAR_ID = 'jupyter-ray-dev:panel';
const COMMAND_LABEL = 'Open Ray Panel';

/** The subset of `GET /ray-dev/api/cluster` these tests compare with the UI. */
interface IClusterSummary {
  dashboard_url: string;
  alive_nodes: number;
  totals: Record<string, { total: number; available: number }>;
}

async function fetchCluster(
  page: IJupyterLabPageFixture
): Promise<IClusterSummary> {
  const response = await page.request.get('/ray-dev/api/cluster');
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

/** The same figure formatting as the panel (`formatNumber`: two decimals at most). */
function formatCount(value: number): string {
  return String(Number(value.toFixed(2)));
}

function sidebar(page: IJupyterLabPageFixture): Locator {
  return page.locator(`[id="${SIDEBAR_ID}"]`);
}

/**
 * Wait for the cluster section to show data. The dashboard of a head that
 * has just started may answer 503 for a moment; the panel then shows the
 * error and backs off, so nudge it with Refresh instead of waiting.
 */
async function waitForCluster(page: IJupyterLabPageFixture): Promise<void> {
  const panel = sidebar(page);
  await expect(async () => {
    if (await panel.getByTestId('ray-error').isVisible()) {
      await panel.getByTestId('ray-refresh').click();
    }
    await expect(panel.getByTestId('ray-node-count')).toBeVisible({
      timeout: 5000
    });
  }).toPass({ timeout: 90 * 1000 });
}

test.describe('Ray panel', () => {
  test('says plainly that the server runs outside Kubernetes', async ({
    page
  }) => {
    await page.sidebar.openTab(SIDEBAR_ID);
    await waitForCluster(page);
    // the real server's answer: no service account, no kubeconfig on this machine
    await expect(sidebar(page).getByTestId('ray-raycluster')).toContainText(
      'Not running in Kubernetes'
    );
  });

  test('its sections scroll in place and its controls are compact, in light and dark', async ({
    page,
    tmpPath
  }) => {
    // a job of a project: the Jobs section then offers its project filter
    await page.contents.uploadContent(
      'print("ok")\n',
      'text',
      `${tmpPath}/styled/run.py`
    );
    const submitted = await page.request.post('/ray-dev/api/jobs', {
      data: { file: `${tmpPath}/styled/run.py` }
    });
    expect(submitted.ok()).toBe(true);
    await page.sidebar.openTab(SIDEBAR_ID);
    const panel = sidebar(page);
    const filter = panel.getByTestId('ray-jobs-project');
    await expect(filter).toBeVisible({ timeout: 60000 });
    for (const theme of ['light', 'dark']) {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
        await page.sidebar.openTab(SIDEBAR_ID);
      }
      const layout = await panel.evaluate(root => {
        const sections = [
          ...root.querySelectorAll(
            '.jp-SidePanel-content > .lm-SplitPanel-child'
          )
        ].map(node => {
          const style = getComputedStyle(node);
          return [node.classList[1], style.overflowY, style.paddingLeft];
        });
        const button = root.querySelector(
          '.jp-SidePanel-toolbar .jp-ToolbarButtonComponent'
        )!;
        const icon = button.querySelector('svg')!.getBoundingClientRect();
        const label = button.querySelector('span')!.getBoundingClientRect();
        return { sections, gap: label.left - icon.right };
      });
      // each scrolls inside its share (no list running under the next title)
      for (const [name, overflow] of layout.sections) {
        expect(`${name}: ${overflow}`).toBe(`${name}: auto`);
      }
      expect(layout.gap).toBeGreaterThanOrEqual(3); // "Environment" not on its icon
      // the filter as compact as the rest of the section, not Lab's 32px field
      const box = (await filter.boundingBox())!;
      expect(box.height).toBeLessThanOrEqual(26);
    }
    await page.theme.setLightTheme();
  });

  test('the command palette opens it', async ({ page }) => {
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await palette.locator('.lm-CommandPalette-input').fill(COMMAND_LABEL);
    const item = palette.locator('.lm-CommandPalette-item', {
      hasText: COMMAND_LABEL
    });
    await expect(item).toBeVisible();

    await item.click();
    await expect(sidebar(page)).toBeVisible();
    expect(await page.sidebar.isTabOpen(SIDEBAR_ID)).toBe(true);
  });

  test('shows the cluster the server reports', async ({ page }, testInfo) => {
    await page.sidebar.openTab(SIDEBAR_ID);
    const tab = page.sidebar.getTabLocator(SIDEBAR_ID);
    await expect(tab).toHaveAttribute('title', /Ray cluster/);

    await waitForCluster(page);
    const panel = sidebar(page);
    const cluster = await fetchCluster(page);
    expect(cluster.alive_nodes).toBeGreaterThanOrEqual(1);
    expect(cluster.totals.CPU.total).toBeGreaterThan(0);

    await expect(panel.getByTestId('ray-node-count')).toHaveAttribute(
      'data-alive',
      String(cluster.alive_nodes)
    );
    await expect(
      panel.locator('[data-testid="ray-node"][data-state="ALIVE"]')
    ).toHaveCount(cluster.alive_nodes);
    await expect(
      panel.getByTestId('ray-resource-CPU').locator('.jp-RayDev-total')
    ).toHaveText(formatCount(cluster.totals.CPU.total));

    const link = panel.getByTestId('ray-dashboard-link');
    await expect(link).toHaveAttribute('href', cluster.dashboard_url);
    await expect(link).toHaveAttribute('target', '_blank');
    await expect(link).toHaveAttribute('rel', /noopener/);
    await expect(panel.getByRole('alert')).toHaveCount(0);

    await screenshot(page, panel, 'light', testInfo);
    await page.theme.setDarkTheme();
    await expect(panel.getByTestId('ray-node-count')).toBeVisible();
    await screenshot(page, panel, 'dark', testInfo);
  });
});

// The outage server (jupyter_server_outage_config.py): its Ray address is a
// loopback port where nothing listens until a test relays it to the real head.
const PORT = Number(process.env.RAY_DEV_UI_PORT || '8888');
const OUTAGE_URL = `http://localhost:${PORT + 1}`;
const DEAD_RAY_PORT = PORT + 2;

/** Relay `port` on loopback to `target` (host:port): Ray appears there. */
async function relay(port: number, target: URL): Promise<() => Promise<void>> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(client => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  return async () => {
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise(resolve => server.close(resolve));
  };
}

test.describe('Ray panel while Ray is unreachable', () => {
  test.use({ baseURL: OUTAGE_URL });

  test('shows the server error, then recovers when Ray comes up', async ({
    page
  }, testInfo) => {
    await page.sidebar.openTab(SIDEBAR_ID);
    const panel = sidebar(page);
    // the cluster section's alert (the Jobs section shows its own)
    const alert = panel.getByTestId('ray-error');
    await expect(alert).toHaveAttribute('role', 'alert');
    // the real server's 503, naming the address it tried
    await expect(alert).toContainText(
      `Cannot reach the Ray dashboard at http://127.0.0.1:${DEAD_RAY_PORT}`
    );
    await expect(alert.locator('code').first()).toHaveText('ray start --head');
    await expect(panel.getByTestId('ray-node-count')).toHaveCount(0);
    await screenshot(page, panel, 'error', testInfo);

    // Ray comes up at that address (a relay to the main server's head): the
    // panel must recover without any click (poll backoff)
    const main = await request.newContext({
      baseURL: `http://localhost:${PORT}`
    });
    let dashboard = '';
    await expect(async () => {
      const reply = await main.get('/ray-dev/api/cluster');
      expect(reply.status(), await reply.text()).toBe(200);
      dashboard = (await reply.json()).address; // where the server reaches Ray
    }).toPass({ timeout: 90 * 1000 });
    await main.dispose();
    const stop = await relay(DEAD_RAY_PORT, new URL(dashboard));
    try {
      await expect(panel.getByTestId('ray-node-count')).toBeVisible({
        timeout: 90 * 1000
      });
      await expect(alert).toHaveCount(0);
    } finally {
      await stop();
    }
  });
});

/**
 * Keep a picture of the panel: attached to the report and copied to /tmp;
 * with RAY_DEV_SCREENSHOTS=1 (`jlpm test:screenshots`) also written to
 * ui-tests/screenshots/ for the README.
 */
async function screenshot(
  page: IJupyterLabPageFixture,
  panel: Locator,
  name: 'light' | 'dark' | 'error',
  testInfo: TestInfo
): Promise<void> {
  // Let the bars' width transition finish.
  await page.waitForTimeout(400);
  // Crop to the content: the sidebar is as tall as the window.
  const top = await panel.boundingBox();
  const content = await panel.getByTestId('ray-cluster').boundingBox();
  if (!top || !content) {
    throw new Error('The Ray panel is not on screen');
  }
  const image = await page.screenshot({
    clip: {
      x: top.x,
      y: top.y,
      width: top.width,
      height: content.y + content.height - top.y + 8
    }
  });
  await keepImage(
    testInfo,
    `ray-panel-${name}`,
    image,
    name === 'light' ? '/tmp/ray-panel.png' : `/tmp/ray-panel-${name}.png`
  );
}
