/**
 * The Ray dashboard inside Lab, through the Jupyter server, against the real
 * token-auth local Ray head `jlpm start` runs: the browser never gets the Ray
 * token, yet the dashboard's Jobs page lists our job and its logs load. Also:
 * a finished job's log tab, restored by a page reload, shows its real status.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

const SIDEBAR_ID = 'jupyter-ray-dev:panel';

/** Run `file` as a Ray job through the REST API and wait until it ends. */
async function runJob(
  page: IJupyterLabPageFixture,
  file: string
): Promise<string> {
  const submitted = await page.request.post('ray-dev/api/jobs', {
    data: { file }
  });
  expect(submitted.status(), await submitted.text()).toBe(201);
  const jobId = (await submitted.json()).submission_id as string;
  await expect
    .poll(
      async () => {
        const job = await page.request.get(`ray-dev/api/jobs/${jobId}`);
        return (await job.json()).status;
      },
      { timeout: 120000, intervals: [500] }
    )
    .toBe('SUCCEEDED');
  return jobId;
}

test.describe('Ray dashboard', () => {
  test('the proxied dashboard lists our job and shows its logs', async ({
    page,
    tmpPath
  }) => {
    const file = `${tmpPath}/dash_job.py`;
    await page.contents.uploadContent(
      'print("line for the dashboard", flush=True)\n',
      'text',
      file
    );
    const jobId = await runJob(page, file);

    // The browser holds no Ray token: the dashboard straight from the
    // browser's point of view needs none, because the server adds it.
    const direct = await page.request.get('ray-dev/dashboard/api/jobs/');
    expect(direct.status()).toBe(200);

    // "Open Ray dashboard" in the Ray panel opens it in a Lab tab.
    await page.sidebar.openTab(SIDEBAR_ID);
    const panel = page.locator(`[id="${SIDEBAR_ID}"]`);
    await panel.getByTestId('ray-dashboard-link').click();
    const tab = page.locator('.jp-RayDev-dashboardWidget');
    await expect(tab).toBeVisible();
    const frame = tab.frameLocator('iframe');
    // the dashboard's own UI, loaded under /ray-dev/dashboard/
    await expect(frame.getByRole('link', { name: 'Jobs' }).first()).toBeVisible(
      {
        timeout: 60000
      }
    );
    await frame.getByRole('link', { name: 'Jobs' }).first().click();
    await expect(frame.getByText(jobId).first()).toBeVisible({
      timeout: 60000
    });

    // "View in dashboard" on the job's row: the job's page, with its logs.
    const row = panel
      .getByTestId('ray-job')
      .and(page.locator(`[data-job-id="${jobId}"]`));
    await row.getByTestId('ray-job-dashboard').click();
    await expect(tab).toBeVisible();
    await expect(frame.getByText('line for the dashboard').first()).toBeVisible(
      { timeout: 60000 }
    );
  });

  test('a restored log tab of a finished job shows its real status', async ({
    page,
    tmpPath
  }) => {
    const file = `${tmpPath}/restored_job.py`;
    await page.contents.uploadContent(
      'print("done before the reload", flush=True)\n',
      'text',
      file
    );
    const jobId = await runJob(page, file);
    await page.evaluate(async (id: string) => {
      await window.jupyterapp.commands.execute('ray-dev:open-job-logs', {
        jobId: id
      });
    }, jobId);
    const logTab = page.locator('.jp-RayDev-logWidget');
    await expect(logTab.getByTestId('ray-job-status')).toHaveAttribute(
      'data-status',
      'SUCCEEDED',
      { timeout: 60000 }
    );

    // the layout is saved to the workspace shortly after a change: reload once it holds
    // the tab (the restorer then reopens it; the test does not)
    await expect
      .poll(
        () =>
          page.evaluate(async () => {
            const response = await fetch('/lab/api/workspaces/default');
            return JSON.stringify((await response.json()).data);
          }),
        { timeout: 30000 }
      )
      .toContain(`jupyter-ray-dev-job-logs:${jobId}`);
    // Galata's own readiness check wants the Launcher, which a restored layout lacks
    await page.reload({ waitForIsReady: false });
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    const restored = page.locator('.jp-RayDev-logWidget');
    await expect(restored).toBeVisible({ timeout: 60000 });
    await expect(restored.getByTestId('ray-log-lines')).toContainText(
      'done before the reload',
      { timeout: 60000 }
    );
    await expect(restored.getByTestId('ray-job-status')).toHaveAttribute(
      'data-status',
      'SUCCEEDED'
    );
  });
});
