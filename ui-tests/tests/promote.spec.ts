/**
 * "Promote to prod" end to end, against a real server and the real local Ray
 * head (started by `jlpm start` through devlab): right-click a sample project
 * folder, see the review (Dockerfile, pinned requirements, what differs from
 * dev), and export the build context as a .tar.gz download.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

import { expect, type IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { notebook } from './notebook';

const NOTEBOOK = notebook([
  '%pip install tqdm',
  "import helpers\nprint(helpers.answer(), open('data/params.txt').read())"
]);

const RUNTIME_ENV = `pip:
  - pyyaml>=5
env_vars:
  MODE: prod
  HF_TOKEN: not-for-images
`;

/** The sample project: a notebook importing a module, a data file, runtime_env.yaml. */
async function uploadSampleProject(
  page: IJupyterLabPageFixture,
  project: string,
  withData = true
): Promise<void> {
  const files: [string, string][] = [
    ['train.ipynb', NOTEBOOK],
    ['helpers.py', 'def answer():\n    return 42\n'],
    ...(withData
      ? ([['data/params.txt', 'lr=0.1']] as [string, string][])
      : []),
    ['runtime_env.yaml', RUNTIME_ENV]
  ];
  for (const [name, content] of files) {
    await page.contents.uploadContent(content, 'text', `${project}/${name}`);
  }
}

/**
 * The open promote dialog and its review, once shown: the review is computed
 * from the project and the real Ray head's versions, which takes a while.
 */
async function shownReview(
  page: IJupyterLabPageFixture
): Promise<{ dialog: Locator; review: Locator }> {
  const dialog = page.locator('.jp-Dialog');
  const review = dialog.getByTestId('ray-promote-review');
  await expect(review).toBeVisible({ timeout: 60000 });
  return { dialog, review };
}

test.describe('Promote to prod', () => {
  test('right-click a project, review Dockerfile and requirements, export the context', async ({
    page,
    tmpPath
  }) => {
    const project = `${tmpPath}/promo_proj`;
    await uploadSampleProject(page, project);
    await page.filebrowser.openDirectory(tmpPath);

    const folder = page.locator('.jp-DirListing-item', {
      hasText: 'promo_proj'
    });
    await expect(folder).toBeVisible();
    await folder.click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Promote to prod…' }).click();

    const { dialog, review } = await shownReview(page);
    await expect(review.getByTestId('ray-promote-entrypoint')).toContainText(
      'train.ipynb'
    );
    const dockerfile = review.getByTestId('ray-promote-dockerfile');
    await expect(dockerfile).toContainText('FROM rayproject/ray:');
    await expect(dockerfile).toContainText(
      'COPY --chown=1000:100 app/ /home/ray/app/'
    );
    await expect(dockerfile).toContainText('USER ray');
    // nothing was pushed before: a full build, and the review says why not the code layer
    await expect(review.getByTestId('ray-promote-build-path')).toContainText(
      'Full build:'
    );
    await expect(review.getByTestId('ray-promote-requirements')).toContainText(
      /pyyaml==\d/
    );
    const differences = review.getByTestId('ray-promote-differences');
    await expect(differences).toContainText('pyyaml>=5 →');
    await expect(differences).toContainText('%pip install tqdm');
    await expect(differences).toContainText('HF_TOKEN');
    await expect(dockerfile).not.toContainText('not-for-images');
    await expect(review.getByTestId('ray-promote-manifests')).toContainText(
      'kind: RayJob'
    );
    // outside a KubeRay pod the shape is Ray's view: each number says where it came from
    await expect(review.getByTestId('ray-promote-shape-numbers')).toContainText(
      'head memory'
    );
    await expect(review.getByTestId('ray-promote-shape-numbers')).toContainText(
      "Ray's resources_total of the head node"
    );
    // the RayService variant needs a Serve app, which this notebook does not bind
    const variant = review.getByTestId('ray-promote-variant');
    await variant.selectOption('rayservice');
    await expect(review.getByRole('alert')).toContainText('serve_app');
    await variant.selectOption('rayjob');
    await expect(review.getByTestId('ray-promote-manifests')).toContainText(
      'kind: RayJob'
    );
    // the runtime_env path is offered beside the image, marked as less reproducible
    await expect(
      dialog.getByRole('button', {
        name: 'Upload code to storage (less reproducible)'
      })
    ).toBeVisible();

    const download = page.waitForEvent('download');
    const exported = page.waitForResponse(response =>
      response.url().includes('/promote/context')
    );
    await dialog.getByRole('button', { name: 'Export context' }).click();
    const saved = await download;
    const promotionId = (await exported).headers()['x-ray-dev-promotion'];
    expect(promotionId).toMatch(/^promo_/);
    expect(saved.suggestedFilename()).toMatch(
      /^promo-proj-[0-9a-f]{12}-context\.tar\.gz$/
    );
    const file = await saved.path();
    const bytes = fs.readFileSync(file!);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]); // gzip
    await expect(dialog).toHaveCount(0);

    // the export is in the history, opened from the Ray panel
    await page.sidebar.openTab('jupyter-ray-dev:panel');
    await page.getByTestId('ray-promotions-panel-button').click();
    const history = page.getByTestId('ray-promotions');
    // the history outlives the server (other runs' entries may be there): find ours by id
    const row = history.locator(`[data-promotion-id="${promotionId}"]`);
    await expect(row).toContainText(project);
    await expect(row.getByTestId('ray-promotion-status')).toHaveText(
      'exported'
    );
    // keyboard: focus the row, Enter opens its details
    await row.focus();
    await page.keyboard.press('Enter');
    const detail = history.getByTestId('ray-promotion-detail');
    await expect(detail).toContainText('kind: RayJob');
    await expect(detail.getByTestId('ray-promotion-reapply')).toBeVisible();
    // its provenance: no job of the project ran, so the pins came from the server
    const provenance = detail.getByTestId('ray-promotion-provenance');
    await expect(provenance).toContainText("this server's Python");
    await expect(provenance).toContainText(
      /sha256 [0-9a-f]{64}, 1 pinned line/
    );
    await expect(provenance).toContainText('Not checked');
  });

  test('the notebook toolbar button reviews the notebook it sits on', async ({
    page,
    tmpPath
  }) => {
    const project = `${tmpPath}/tb_proj`;
    await uploadSampleProject(page, project, false);
    await page.filebrowser.open(`${project}/train.ipynb`);
    await page.getByTestId('ray-promote-toolbar').first().click();
    const { review } = await shownReview(page);
    await expect(review.getByTestId('ray-promote-entrypoint')).toContainText(
      `${project}/train.ipynb`
    );
    await expect(review.getByTestId('ray-promote-command')).toContainText(
      'python train.py'
    );
    await page
      .locator('.jp-Dialog-footer')
      .getByRole('button', { name: 'Cancel' })
      .click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  });

  test('deploy as a RayCronJob: the next run times in the chosen zone, then export the context', async ({
    page,
    tmpPath
  }) => {
    const project = `${tmpPath}/cron_proj`;
    await uploadSampleProject(page, project, false);
    await page.filebrowser.open(`${project}/train.ipynb`);
    await page.getByTestId('ray-promote-toolbar').first().click();
    const { dialog, review } = await shownReview(page);
    // no History Server configured: the review says where the logs go
    await expect(review.getByTestId('ray-promote-logs')).toContainText(
      'The logs go with the cluster'
    );
    // the plan's warnings the source block does not show have their list
    const warnings = review.getByTestId('ray-promote-warnings');
    await expect(warnings).toContainText('machine totals');
    await expect(warnings).not.toContainText('No succeeded run of');

    await review.getByTestId('ray-promote-variant').selectOption('raycronjob');
    const cron = review.getByTestId('ray-promote-cron');
    await expect(cron).toHaveValue('0 2 * * 1-5');
    // a zone with a DST change in March: the runs carry its offsets
    const zone = review.getByTestId('ray-promote-time-zone');
    await zone.fill('America/New_York');
    await zone.press('Enter');
    const block = review.getByTestId('ray-promote-next-runs-block');
    await expect(block).toContainText(
      'Next runs of 0 2 * * 1-5 (America/New_York)'
    );
    const runs = review.getByTestId('ray-promote-next-runs').locator('li');
    await expect(runs).toHaveCount(5);
    for (const text of await runs.allTextContents()) {
      // 02:00 on a weekday, New York's offset (-05:00 or -04:00 in summer)
      expect(text).toMatch(/^\d{4}-\d{2}-\d{2} 02:00 -0[45]:00$/);
      const day = new Date(`${text.slice(0, 10)}T12:00:00Z`).getUTCDay();
      expect(day >= 1 && day <= 5).toBe(true);
    }
    await expect(review.getByTestId('ray-promote-manifests')).toContainText(
      'kind: RayCronJob'
    );
    await expect(review.getByTestId('ray-promote-manifests')).toContainText(
      'timeZone: America/New_York'
    );
    // suspend, clicked straight from a field being edited (its blur re-plans):
    // the click is not lost, and the manifest follows
    const suspend = review.getByTestId('ray-promote-suspend');
    await zone.fill('Europe/Berlin');
    await suspend.click();
    await expect(suspend).toBeChecked();
    await expect(review.getByTestId('ray-promote-manifests')).toContainText(
      'suspend: true'
    );
    await expect(review.getByTestId('ray-promote-manifests')).toContainText(
      'timeZone: Europe/Berlin'
    );
    await review.getByText('Create it suspended').click();
    await expect(suspend).not.toBeChecked();
    await expect(review.getByTestId('ray-promote-manifests')).not.toContainText(
      'suspend: true'
    );
    await zone.fill('America/New_York');
    await zone.press('Enter');
    await expect(block).toContainText(
      'Next runs of 0 2 * * 1-5 (America/New_York)'
    );
    // a six-field schedule is refused by the server, naming the field
    await cron.fill('0 0 2 * * 1-5');
    await cron.press('Enter');
    await expect(review.getByRole('alert')).toContainText('`schedule`');
    await cron.fill('30 6 * * *');
    await cron.press('Enter');
    await expect(block).toContainText(
      'Next runs of 30 6 * * * (America/New_York)'
    );

    const download = page.waitForEvent('download');
    const exported = page.waitForResponse(response =>
      response.url().includes('/promote/context')
    );
    await dialog.getByRole('button', { name: 'Export context' }).click();
    const saved = await download;
    const promotionId = (await exported).headers()['x-ray-dev-promotion'];
    // the context holds the RayCronJob (tar headers are plain text inside the gzip)
    const tar = zlib.gunzipSync(fs.readFileSync((await saved.path())!));
    expect(tar.includes('manifests/raycronjob.yaml')).toBe(true);
    expect(tar.includes('schedule: 30 6 * * *')).toBe(true);
    await expect(dialog).toHaveCount(0);

    // the history shows the schedule
    await page.sidebar.openTab('jupyter-ray-dev:panel');
    await page.getByTestId('ray-promotions-panel-button').click();
    const row = page
      .getByTestId('ray-promotions')
      .locator(`[data-promotion-id="${promotionId}"]`);
    await expect(row.getByTestId('ray-promotion-schedule')).toHaveText(
      '30 6 * * * (America/New_York)'
    );
  });
});
