/**
 * Ray jobs end to end, against a real server and a real local Ray head
 * (started by `jlpm start` through devlab): right-click a script in the file
 * browser, run it as a Ray job, watch its log lines arrive live over the
 * WebSocket, and see the badge turn SUCCEEDED in the log tab and in the
 * Jobs section of the Ray sidebar.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { screenshot } from './screenshot';

const SIDEBAR_ID = 'jupyter-ray-dev:panel';
const FILE = 'hello_ray_job.py';

// Three lines, a pause long enough to see them while the job still runs,
// then two more (one coloured with ANSI codes).
const SCRIPT = `import time
for i in range(3):
    print(f"ray-dev line {i}", flush=True)
time.sleep(6)
print("\\x1b[32mray-dev line 3 green\\x1b[0m", flush=True)
print("ray-dev line 4", flush=True)
`;

/** Upload `source` as `path`, run it from the file browser, wait for `status`. */
async function runToEnd(
  page: IJupyterLabPageFixture,
  path: string,
  source: string,
  status: string
): Promise<Locator> {
  await page.contents.uploadContent(source, 'text', path);
  const slash = path.lastIndexOf('/');
  await page.filebrowser.openDirectory(path.slice(0, slash));
  await page
    .locator('.jp-DirListing-item', { hasText: path.slice(slash + 1) })
    .click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Run as Ray job…' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Run' }).click();
  const logTab = page.locator('.jp-RayDev-logWidget');
  await expect(logTab.getByTestId('ray-job-status')).toHaveAttribute(
    'data-status',
    status,
    { timeout: 90000 }
  );
  return logTab;
}

test.describe('Ray jobs', () => {
  test('right-click a script, run it, follow its log live to SUCCEEDED', async ({
    page,
    tmpPath
  }) => {
    await page.contents.uploadContent(SCRIPT, 'text', `${tmpPath}/${FILE}`);
    await page.filebrowser.openDirectory(tmpPath);
    const item = page.locator('.jp-DirListing-item', { hasText: FILE });
    await expect(item).toBeVisible();

    await item.click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Run as Ray job…' }).click();

    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByTestId('ray-run-form')).toBeVisible();
    await expect(dialog.getByTestId('ray-run-form')).toContainText(FILE);
    // The environment summary is looked up while the dialog is open.
    await expect(dialog.getByTestId('ray-run-env')).toContainText(
      'runtime_env.yaml'
    );
    await dialog.getByTestId('ray-run-cpus').fill('0.5');
    await dialog.getByRole('button', { name: 'Run' }).click();
    await expect(dialog).toHaveCount(0);

    // The log viewer opens at once and streams while the job runs.
    const logTab = page.locator('.jp-RayDev-logWidget');
    // Ray accepts a first job in a few seconds; a refused submit re-opens
    // the dialog with the server's message, which would show here.
    await expect(logTab.or(dialog.getByTestId('ray-run-error'))).toBeVisible({
      timeout: 60000
    });
    await expect(logTab).toBeVisible();
    const lines = logTab.getByTestId('ray-log-lines');
    const badge = logTab.getByTestId('ray-job-status');
    await expect(lines).toContainText('ray-dev line 2', { timeout: 60000 });
    // Live: the first lines are there while the driver still sleeps.
    await expect(badge).toHaveAttribute('data-status', 'RUNNING');
    await expect(lines).not.toContainText('ray-dev line 4');

    await expect(badge).toHaveAttribute('data-status', 'SUCCEEDED', {
      timeout: 60000
    });
    // Every line once, in order; ANSI codes become colours, not text.
    const text = await lines.innerText();
    const ours = text
      .split('\n')
      .filter(line => line.startsWith('ray-dev line'));
    expect(ours).toEqual([
      'ray-dev line 0',
      'ray-dev line 1',
      'ray-dev line 2',
      'ray-dev line 3 green',
      'ray-dev line 4'
    ]);
    await expect(lines.locator('.ansi-green-fg')).toHaveText(
      'ray-dev line 3 green'
    );

    // Search keeps only the matching lines.
    await logTab.getByTestId('ray-log-search').fill('LINE 3');
    await expect(lines.locator('.jp-RayDev-logLine:visible')).toHaveText([
      'ray-dev line 3 green'
    ]);
    await logTab.getByTestId('ray-log-search').fill('');

    // The Jobs section lists it as SUCCEEDED with a link to the file.
    await page.sidebar.openTab(SIDEBAR_ID);
    const jobs = page.locator(`[id="${SIDEBAR_ID}"]`).getByTestId('ray-jobs');
    const row = jobs.getByTestId('ray-job').filter({ hasText: FILE }).first();
    await expect(row.getByTestId('ray-job-status')).toHaveAttribute(
      'data-status',
      'SUCCEEDED',
      { timeout: 30000 }
    );
    await expect(row.getByTestId('ray-job-file')).toHaveText(FILE);

    await screenshot(page, 'ray-jobs');
  });

  test('a failing script shows FAILED with its error in the list', async ({
    page,
    tmpPath
  }) => {
    const file = 'failing_job.py';
    const logTab = await runToEnd(
      page,
      `${tmpPath}/${file}`,
      'print("about to fail", flush=True)\nraise ValueError("bad input for ray-dev")\n',
      'FAILED'
    );
    await expect(logTab.getByTestId('ray-log-lines')).toContainText(
      'ValueError: bad input for ray-dev'
    );

    await page.sidebar.openTab(SIDEBAR_ID);
    const row = page
      .locator(`[id="${SIDEBAR_ID}"]`)
      .getByTestId('ray-job')
      .filter({ hasText: file })
      .first();
    await expect(row.getByTestId('ray-job-status')).toHaveAttribute(
      'data-status',
      'FAILED',
      { timeout: 30000 }
    );
    await expect(row.getByTestId('ray-job-error')).toContainText(
      'ValueError: bad input for ray-dev'
    );
  });

  test("a finished job's log saved to storage; saving again asks to Replace", async ({
    page,
    tmpPath
  }) => {
    const logTab = await runToEnd(
      page,
      `${tmpPath}/save_my_log.py`,
      'print("a log worth keeping", flush=True)\n',
      'SUCCEEDED'
    );
    const dialog = page.locator('.jp-Dialog');
    const dest = `artifacts:ui-saved-logs/${tmpPath.split('/').pop()}/`;
    const saveReply = () =>
      page.waitForResponse(response => response.url().includes('/logs/save'));
    const save = async (): Promise<void> => {
      // the log opens split beside the file: a narrow toolbar keeps its
      // last buttons under "More commands", as Lab's toolbars do
      const inBar = logTab.getByTestId('ray-log-save');
      const inPopup = page
        .locator('.jp-Toolbar-responsive-popup')
        .getByTestId('ray-log-save');
      if (await inBar.isVisible()) {
        await inBar.click();
      } else {
        if (!(await inPopup.isVisible())) {
          await logTab.getByRole('button', { name: 'More commands' }).click();
        }
        await inPopup.click();
      }
      const input = dialog.getByTestId('ray-log-save-dest');
      await expect(input).toBeFocused();
      // wide enough to read a bucket URI, not a file name's width
      const box = await input.boundingBox();
      expect(box!.width).toBeGreaterThan(450);
      await input.fill(dest);
      await dialog.getByRole('button', { name: 'Save' }).click();
    };
    let reply = saveReply();
    await save();
    expect((await reply).status()).toBe(200);
    await expect(
      page.locator('.Toastify__toast', { hasText: 'Saved the log to' })
    ).toBeVisible();

    // the same place again: the file is kept unless the user says Replace
    reply = saveReply();
    await save();
    const refused = await reply;
    expect(refused.status()).toBe(409);
    expect((await refused.json()).field).toBe('overwrite');
    await expect(dialog).toContainText('already exists. Replace it');
    await dialog.getByRole('button', { name: 'Keep' }).click();
    await expect(dialog).toHaveCount(0);
    await save();
    await expect(dialog).toContainText('already exists. Replace it');
    reply = saveReply();
    await dialog.getByRole('button', { name: 'Replace' }).click();
    const replaced = await reply;
    expect(replaced.request().postDataJSON()).toEqual({
      dest,
      overwrite: true
    });
    expect(replaced.status()).toBe(200);
    await expect(dialog).toHaveCount(0);
  });

  test('editors have a toolbar button and the palette a command', async ({
    page,
    tmpPath
  }) => {
    const file = 'edit_me.py';
    await page.contents.uploadContent(
      'print("hi")\n',
      'text',
      `${tmpPath}/${file}`
    );
    await page.filebrowser.openDirectory(tmpPath);
    await page.locator('.jp-DirListing-item', { hasText: file }).dblclick();
    const button = page
      .locator('.jp-MainAreaWidget')
      .getByTestId('ray-run-toolbar');
    await expect(button).toBeVisible();
    await button.click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByTestId('ray-run-form')).toContainText(file);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);

    // Focus the editor's tab, not its text, so the shortcut reaches Lab.
    await page
      .locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: file })
      .click();
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await expect(palette.locator('.lm-CommandPalette-input')).toBeVisible();
    await palette.locator('.lm-CommandPalette-input').fill('Run as Ray job');
    const item = palette.locator('.lm-CommandPalette-item', {
      hasText: 'Ray: Run as Ray job…'
    });
    await expect(item).toBeVisible();
    await item.click();
    await expect(dialog.getByTestId('ray-run-form')).toContainText(file);
    await screenshot(page, 'ray-jobs-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });
});
