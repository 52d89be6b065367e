/**
 * The Storage panel against a real server: `jlpm start` (devlab) serves the
 * local artifacts folder as the `artifacts` root. Every test works in a
 * folder of its own (other UI runs may share the artifacts folder), created
 * and removed through the storage API (Galata's server has no token or XSRF).
 */
import * as fs from 'fs';
import * as path from 'path';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { APIRequestContext, Locator, TestInfo } from '@playwright/test';

import { keepImage } from './screenshot';

const PANEL_ID = 'jupyter-ray-dev:storage';
const ROOT = 'artifacts';
const API = `/ray-dev/api/storage/${ROOT}`;
const CSV = 'epoch,loss,accuracy\n1,0.9,0.51\n2,0.5,0.74\n3,0.25,0.88\n';

function panel(page: IJupyterLabPageFixture): Locator {
  return page.locator(`[id="${PANEL_ID}"]`);
}

function entry(page: IJupyterLabPageFixture, name: string): Locator {
  return panel(page).locator(
    `[data-testid="storage-entry"][data-name="${name}"]`
  );
}

async function mkdir(request: APIRequestContext, path: string): Promise<void> {
  const response = await request.post(`${API}/mkdir`, { data: { path } });
  expect(response.status(), await response.text()).toBe(201);
}

/** Upload through the same chunked API the panel uses. */
async function putFile(
  request: APIRequestContext,
  path: string,
  text: string
): Promise<void> {
  const body = Buffer.from(text);
  const start = await request.post(`${API}/uploads`, {
    data: { path, size: body.length }
  });
  expect(start.status(), await start.text()).toBe(201);
  const { upload_id } = await start.json();
  const put = await request.put(`${API}/uploads/${upload_id}`, {
    data: body,
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Range': `bytes 0-${body.length - 1}/${body.length}`
    }
  });
  expect(put.status(), await put.text()).toBe(200);
  const commit = await request.post(`${API}/uploads/${upload_id}/commit`);
  expect(commit.status(), await commit.text()).toBe(201);
}

async function listNames(
  request: APIRequestContext,
  path: string
): Promise<string[]> {
  const response = await request.get(
    `${API}/list?path=${encodeURIComponent(path)}`
  );
  expect(response.status(), await response.text()).toBe(200);
  return (await response.json()).entries.map((e: { name: string }) => e.name);
}

/** Open the panel from the command palette, or by running its command. */
async function openStorage(
  page: IJupyterLabPageFixture,
  via: 'palette' | 'command' = 'palette'
): Promise<void> {
  if (via === 'palette') {
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await palette.locator('.lm-CommandPalette-input').fill('Open Storage');
    await palette
      .locator('.lm-CommandPalette-item', { hasText: 'Open Storage' })
      .first()
      .click();
  } else {
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('ray-dev:open-storage')
    );
  }
  await expect(panel(page)).toBeVisible();
  await expect(panel(page).getByTestId('storage-root')).toHaveValue(ROOT);
}

test.describe('Storage panel', () => {
  let top = '';

  test.beforeEach(async ({ request }) => {
    top = `e2e-storage-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    await mkdir(request, top);
    await mkdir(request, `${top}/data`);
    await putFile(request, `${top}/data/metrics.csv`, CSV);
  });

  test.afterEach(async ({ request }) => {
    await request.post(`${API}/delete`, {
      data: { path: top, recursive: true }
    });
  });

  test('browse into a folder, preview a CSV, upload files and see them listed', async ({
    page,
    request
  }, testInfo) => {
    await openStorage(page);
    const view = panel(page);

    // browse: double-click into the test folder, Enter into `data`
    await entry(page, top).dblclick();
    await expect(view.getByTestId('storage-breadcrumb')).toContainText(top);
    await entry(page, 'data').click();
    await view.getByTestId('storage-list').press('Enter');
    await expect(view.getByTestId('storage-breadcrumb')).toContainText('data');

    // preview the CSV: a table with its schema
    await entry(page, 'metrics.csv').click();
    const table = view.getByTestId('storage-preview-table');
    await expect(table).toBeVisible();
    await expect(table.locator('thead th')).toHaveText([
      'epoch',
      'loss',
      'accuracy'
    ]);
    await expect(table.locator('tbody tr')).toHaveCount(3);
    await expect(view.getByTestId('storage-preview-schema')).toContainText(
      'loss'
    );
    // the snippet reads it with Ray Data
    await expect(view.getByTestId('storage-snippet-code')).toContainText(
      'ray.data.read_csv('
    );
    await storageScreenshot(page, view, 'preview', testInfo);

    // upload with the button's file input
    await view.getByTestId('storage-upload-input').setInputFiles({
      name: 'uploaded.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('hello from the storage panel\n')
    });
    await expect(entry(page, 'uploaded.txt')).toBeVisible();
    await expect(
      view.locator('[data-testid="storage-upload-item"][data-status="done"]')
    ).toHaveCount(1);

    // upload by dropping a file on the list
    await view.getByTestId('storage-list').evaluate(node => {
      const data = new DataTransfer();
      data.items.add(
        new File(['a,b\n1,2\n'], 'dropped.csv', { type: 'text/csv' })
      );
      for (const type of ['dragenter', 'dragover', 'drop']) {
        node.dispatchEvent(
          new DragEvent(type, {
            dataTransfer: data,
            bubbles: true,
            cancelable: true
          })
        );
      }
    });
    await expect(entry(page, 'dropped.csv')).toBeVisible();

    expect((await listNames(request, `${top}/data`)).sort()).toEqual([
      'dropped.csv',
      'metrics.csv',
      'uploaded.txt'
    ]);

    // Backspace goes back up
    await view.getByTestId('storage-list').press('Backspace');
    await expect(entry(page, 'data')).toBeVisible();
  });

  test('new folder, rename and delete (with confirmation)', async ({
    page,
    request
  }) => {
    await openStorage(page, 'command');
    const view = panel(page);
    await entry(page, top).dblclick();
    await expect(entry(page, 'data')).toBeVisible();

    // New folder: toolbar button, name dialog
    await view.getByTestId('storage-new-folder').click();
    const dialog = page.locator('.jp-Dialog');
    await dialog.locator('input').fill('made-here');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect(entry(page, 'made-here')).toBeVisible();

    // Rename: F2 on the selected entry
    await entry(page, 'made-here').click();
    await view.getByTestId('storage-list').press('F2');
    await dialog.locator('input').fill('renamed');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await expect(entry(page, 'renamed')).toBeVisible();
    await expect(entry(page, 'made-here')).toHaveCount(0);

    // Delete: context menu, then confirm
    await entry(page, 'renamed').click({ button: 'right' });
    await page.locator('.lm-Menu-item', { hasText: 'Delete…' }).click();
    await expect(dialog).toContainText('cannot be undone');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(entry(page, 'renamed')).toHaveCount(0);
    expect(await listNames(request, top)).toEqual(['data']);
  });

  test('understands a Ray Tune experiment and inserts a checkpoint snippet', async ({
    page,
    request
  }, testInfo) => {
    const exp = `${top}/tune_exp`;
    const trial = `${exp}/train_fn_a1b2_00000_lr=0.01`;
    await mkdir(request, exp);
    await putFile(
      request,
      `${exp}/experiment_state-2026-11-22_02-00-00.json`,
      '{}'
    );
    await putFile(request, `${exp}/tuner.pkl`, 'x');
    await mkdir(request, trial);
    await putFile(request, `${trial}/params.json`, '{"lr": 0.01, "layers": 3}');
    await putFile(
      request,
      `${trial}/result.json`,
      '{"loss": 0.9, "training_iteration": 1}\n{"loss": 0.31, "training_iteration": 2}\n'
    );
    await putFile(
      request,
      `${trial}/progress.csv`,
      'loss,training_iteration\n0.9,1\n0.31,2\n'
    );
    for (const cp of ['checkpoint_000000', 'checkpoint_000001']) {
      await mkdir(request, `${trial}/${cp}`);
      await putFile(request, `${trial}/${cp}/model.pt`, 'weights');
    }

    await page.notebook.createNew('snippet.ipynb');
    await openStorage(page, 'command');
    const view = panel(page);
    await entry(page, top).dblclick();
    await entry(page, 'tune_exp').dblclick();
    await expect(view.getByTestId('storage-folder-kind')).toHaveText(
      'experiment'
    );

    // selecting the trial summarises it: badge, params, last metrics
    await entry(page, 'train_fn_a1b2_00000_lr=0.01').click();
    await expect(view.getByTestId('storage-ray-params')).toContainText('lr');
    await expect(view.getByTestId('storage-ray-metrics')).toContainText('0.31');
    await expect(
      entry(page, 'train_fn_a1b2_00000_lr=0.01').getByTestId(
        'storage-entry-badge'
      )
    ).toHaveText('trial');
    await view.getByTestId('storage-list').press('Enter');
    await expect(view.getByTestId('storage-folder-kind')).toHaveText('trial');
    await expect(
      entry(page, 'checkpoint_000001').getByTestId('storage-entry-badge')
    ).toHaveText('checkpoint');
    await storageScreenshot(page, view, 'light', testInfo);
    await page.theme.setDarkTheme();
    await storageScreenshot(page, view, 'dark', testInfo);
    await page.theme.setLightTheme();

    // Insert snippet from the context menu: into the new notebook's empty cell
    await entry(page, 'checkpoint_000001').click({ button: 'right' });
    await page
      .locator('.lm-Menu-item', { hasText: 'Insert Snippet in Notebook' })
      .click();
    await expect
      .poll(async () => (await page.notebook.getCellTextInput(0)) ?? '')
      .toContain('ray.train.Checkpoint(');
    expect(await page.notebook.getCellTextInput(0)).toContain(
      `${top}/tune_exp/train_fn_a1b2_00000_lr=0.01/checkpoint_000001`
    );
  });

  test('pages through a folder of 100,000 files as it scrolls, a screenful in the DOM', async ({
    page,
    request
  }) => {
    // Written straight into the artifacts folder (100k uploads would take
    // minutes): the server says where it is, and it must be on this machine
    const roots = await request.get('/ray-dev/api/storage/roots');
    expect(roots.status(), await roots.text()).toBe(200);
    const artifacts = (await roots.json()).roots.find(
      (r: { name: string }) => r.name === ROOT
    );
    expect(artifacts?.protocol, JSON.stringify(artifacts)).toBe('file');
    expect(fs.existsSync(path.join(artifacts.url, top))).toBe(true);
    const big = path.join(artifacts.url, top, 'big');
    fs.mkdirSync(big);
    const N = 100000;
    for (let i = 0; i < N; i++) {
      fs.writeFileSync(
        path.join(big, `f${String(i).padStart(6, '0')}.txt`),
        ''
      );
    }

    await openStorage(page);
    const view = panel(page);
    await entry(page, top).dblclick();
    await entry(page, 'big').dblclick();
    await expect(view.getByTestId('storage-entry').first()).toBeVisible();

    // how long the pages and the main thread take is bench/ material; here:
    // every page arrives, the last entry shows, and the DOM stays a screenful
    const scroller = view.locator('.jp-RayDev-storageRows [role="list"]');
    const setSize = async () =>
      Number(
        await view
          .getByTestId('storage-entry')
          .first()
          .getAttribute('aria-setsize')
      );
    await expect(async () => {
      await scroller.evaluate(node => {
        node.scrollTop = node.scrollHeight;
      });
      expect(await setSize()).toBe(N);
    }).toPass({ timeout: 90_000, intervals: [50] });
    await scroller.evaluate(node => {
      node.scrollTop = node.scrollHeight;
    });
    await expect(
      entry(page, `f${String(N - 1).padStart(6, '0')}.txt`)
    ).toBeVisible();
    // virtualised: a screenful of rows in the DOM, not 100k
    expect(await view.getByTestId('storage-entry').count()).toBeLessThan(100);
  });
});

// The outage server (jupyter_server_outage_config.py): its `artifacts` root is
// an S3 endpoint on a loopback port where nothing listens.
const PORT = Number(process.env.RAY_DEV_UI_PORT || '8888');
const DEAD_S3 = `http://127.0.0.1:${PORT + 3}`;

test.describe('Storage panel while the storage is unreachable', () => {
  test.use({ baseURL: `http://localhost:${PORT + 1}` });

  test('shows the server message, and Retry asks again', async ({ page }) => {
    const listed = () =>
      page.waitForResponse(
        r => r.url().includes(`${API}/list`) && r.status() === 503
      );
    const first = listed();
    await openStorage(page);
    const body = await (await first).json();
    expect(body.reason).toBe('storage_unreachable');
    const error = panel(page).getByTestId('storage-error');
    // the real server's 503, naming the endpoint it tried
    await expect(error).toContainText(body.message);
    await expect(error).toContainText(DEAD_S3);
    const again = listed();
    await error.getByRole('button', { name: 'Retry' }).click();
    expect((await (await again).json()).reason).toBe('storage_unreachable');
    await expect(error).toContainText(DEAD_S3);
  });
});

/** Keep a picture of the panel in /tmp (and the report). */
async function storageScreenshot(
  page: IJupyterLabPageFixture,
  view: Locator,
  name: 'light' | 'dark' | 'preview',
  testInfo: TestInfo
): Promise<void> {
  await page.waitForTimeout(300);
  const image = await view.screenshot();
  await keepImage(testInfo, `storage-panel-${name}`, image);
}
