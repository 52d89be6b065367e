/**
 * Promote reproduces a tested run, end to end in the browser: a notebook
 * project runs as a real Ray job, the review pins its requirements from that
 * run, *Build and push* builds the image for real (buildah, vfs, from the local
 * stand-in for rayproject/ray that tests/ui_builder.py gives the server), the
 * parity check runs in the image, and the result is shown: a pass, pushed to
 * the loopback registry; then a run that imported a package the image lacks, a
 * mismatch that blocks the push until *Push anyway*.
 *
 * The project declares its dependency in requirements.txt, so the job runs on
 * the head's Python (no virtualenv to build) and the image's `pip install`
 * finds the pin already in the stand-in (rayproject/ray has PyYAML too): no
 * package index is needed anywhere.
 */
import { expect, type IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { notebook, openPromoteReview, runToSucceeded } from './notebook';

// promotions and jobs outlive the server: this run's project has its own name
const FOLDER = `parity_${Date.now()}`;
const CODE =
  "import yaml\nimport helpers\nprint('parity', helpers.answer(), yaml.safe_load('a: 1'), flush=True)";

/** Build and push from the open review: the build's tab, once it has a result. */
async function buildFromReview(page: IJupyterLabPageFixture): Promise<Locator> {
  const started = page.waitForResponse(
    response =>
      response.request().method() === 'POST' &&
      /\/promote\/build(\?|$)/.test(response.url())
  );
  await page
    .locator('.jp-Dialog-footer')
    .getByRole('button', { name: 'Build and push' })
    .click();
  const reply = await started;
  expect(reply.ok(), await reply.text()).toBe(true);
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  const progress = page.getByTestId('ray-promote-progress').last();
  // vfs copies the whole image at every step: tens of seconds on a busy machine
  await expect(progress.getByTestId('ray-promote-status')).toContainText(
    /^(Done|Built, not pushed|Failed)/,
    { timeout: 300000 }
  );
  return progress;
}

test.describe('Promote builds, checks and pushes', () => {
  test('the parity check passes for the run it reproduces, and a mismatch blocks the push until Push anyway', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(900 * 1000);
    const project = `${tmpPath}/${FOLDER}`;
    const files: [string, string][] = [
      ['train.ipynb', notebook([CODE])],
      ['helpers.py', 'def answer():\n    return 42\n'],
      ['requirements.txt', 'pyyaml>=5\n']
    ];
    for (const [name, content] of files) {
      await page.contents.uploadContent(content, 'text', `${project}/${name}`);
    }
    const runId = await runToSucceeded(page, project, 'train.ipynb', 120000);

    // the review pins pyyaml at the version the run had
    let review = await openPromoteReview(page, tmpPath, FOLDER);
    const pyyaml = review
      .getByTestId('ray-promote-pin-origins')
      .locator('li[data-package="pyyaml"]');
    await expect(pyyaml).toContainText(/pyyaml==\d/);
    await expect(pyyaml).toContainText(`from the run ${runId} (`);

    // Enter on the run picker changes nothing: keyboard users pick with the
    // arrows, and Enter there must not start a build
    const picker = review.getByTestId('ray-promote-source-run');
    await picker.focus();
    await page.keyboard.press('Enter');
    await expect(review).toBeVisible();
    await expect(page.getByTestId('ray-promote-progress')).toHaveCount(0);

    // a build of what the run used: the check passes and the image is pushed
    let progress = await buildFromReview(page);
    let parity = progress.getByTestId('ray-promote-parity');
    await expect(parity).toHaveClass(/jp-mod-passed/);
    await expect(parity).toContainText(
      `Parity check passed: the image matches the run ${runId} (`
    );
    // the stand-in's Debian Python against the head's: the same minor, a note
    await expect(parity).toContainText(/Python 3\.\d+\.\d+ in the image/);
    await expect(progress.getByTestId('ray-promote-status')).toHaveText(
      'Done: pushed'
    );
    await expect(progress.getByTestId('ray-promote-digest')).toHaveText(
      /^sha256:[0-9a-f]{64}$/
    );
    await expect(progress.getByTestId('ray-promote-push-anyway')).toHaveCount(
      0
    );

    // a run that imported a package the project never declared: the image
    // lacks it, so the check fails and nothing is pushed
    await page.contents.uploadContent(
      notebook([`import tornado\n${CODE}`]),
      'text',
      `${project}/train.ipynb`
    );
    const otherRun = await runToSucceeded(page, project, 'train.ipynb', 120000);
    review = await openPromoteReview(page, tmpPath, FOLDER);
    await expect(pyyaml).toContainText(`from the run ${otherRun} (`);
    await expect(
      review
        .getByTestId('ray-promote-undeclared')
        .locator('li[data-package="tornado"]')
    ).toContainText(/tornado==\d/);
    progress = await buildFromReview(page);
    parity = progress.getByTestId('ray-promote-parity');
    await expect(parity).toHaveClass(/jp-mod-failed/);
    await expect(parity).toContainText(
      `Parity check failed: the image differs from the run ${otherRun} (`
    );
    const mismatches = parity.getByTestId('ray-promote-mismatches');
    await expect(mismatches).toContainText(
      /tornado is not installed in the image \([\d.]+ in the run\)/
    );
    await expect(mismatches).toContainText(
      'import tornado failed in the image: ModuleNotFoundError'
    );
    await expect(progress.getByTestId('ray-promote-status')).toContainText(
      `Built, not pushed: the image differs from the run ${otherRun}`
    );
    await expect(progress.getByTestId('ray-promote-digest')).toHaveCount(0);

    // Push anyway: pushed, and the override is said
    await progress.getByTestId('ray-promote-push-anyway').click();
    await expect(progress.getByTestId('ray-promote-status')).toHaveText(
      'Done: pushed',
      { timeout: 120000 }
    );
    await expect(progress.getByTestId('ray-promote-digest')).toHaveText(
      /^sha256:[0-9a-f]{64}$/
    );
    await expect(progress).toContainText('Pushed anyway by');
  });
});
