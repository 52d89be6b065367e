/**
 * Promote pins from a tested run, end to end against the real server and the
 * real local Ray head (started by `jlpm start` through devlab): a notebook
 * project runs as a Ray job to SUCCEEDED (its driver records what it used);
 * the Promote review attributes the pins to that run, changes attribution
 * when "this server's Python" is picked, names a project file edited since
 * the run, and *Add* writes an import the project never declared into
 * runtime_env.yaml, pinned to the run's version. No image is built.
 */
import * as fs from 'fs';
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';
import type { Locator, TestInfo } from '@playwright/test';

import { notebook, openPromoteReview, runToSucceeded } from './notebook';

// tornado is in the head's Python and declared nowhere: "installed by hand"
const NOTEBOOK = notebook([
  'import yaml\nimport tornado\nimport helpers\n' +
    "print('provenance', helpers.answer(), flush=True)"
]);

// the job history outlives the server: another run's jobs of the same folder must not count
const FOLDER = `prov_${Date.now()}`;

// pip makes Ray build the job a virtualenv on the head's Python, whose pyyaml
// satisfies the spec: nothing is downloaded
const RUNTIME_ENV = `pip:
  - pyyaml>=5  # parsing the config
`;

test.describe('Promote pins from a tested run', () => {
  test('pins attributed to the run, or to this server’s Python; changed files; Add an undeclared import', async ({
    page,
    tmpPath
  }, testInfo) => {
    // Ray builds the job a virtualenv: minutes on a busy two-core machine
    test.setTimeout(600 * 1000);
    const project = `${tmpPath}/${FOLDER}`;
    const files: [string, string][] = [
      ['train.ipynb', NOTEBOOK],
      ['helpers.py', 'def answer():\n    return 42\n'],
      ['runtime_env.yaml', RUNTIME_ENV]
    ];
    for (const [name, content] of files) {
      await page.contents.uploadContent(content, 'text', `${project}/${name}`);
    }

    // before any run nothing was tested: the review says so where the picker is
    const dialog = page.locator('.jp-Dialog');
    const review = dialog.getByTestId('ray-promote-review');
    const openReview = () => openPromoteReview(page, tmpPath, FOLDER);
    await openReview();
    await expect(
      review.getByTestId('ray-promote-source-warnings')
    ).toContainText('No succeeded run of');
    await expect(
      review.getByTestId('ray-promote-source-description')
    ).toHaveAttribute('data-kind', 'server');
    await page
      .locator('.jp-Dialog-footer')
      .getByRole('button', { name: 'Cancel' })
      .click();
    await expect(dialog).toHaveCount(0);

    // run the notebook as a Ray job, to SUCCEEDED
    const runId = await runToSucceeded(page, project, 'train.ipynb', 420000);
    const logTab = page.locator('.jp-RayDev-logWidget');
    await expect(logTab.getByTestId('ray-log-lines')).toContainText(
      'provenance 42'
    );

    // Promote to prod: by default the pins come from that run
    await openReview();
    await expect(review.getByTestId('ray-promote-source-warnings')).toHaveCount(
      0
    );
    const picker = review.getByTestId('ray-promote-source-run');
    await expect(picker).toHaveValue('latest');
    await expect(picker.locator('option[value="latest"]')).toHaveText(
      `Latest succeeded run (${runId})`
    );
    await expect(picker.locator(`option[value="${runId}"]`)).toContainText(
      'SUCCEEDED'
    );
    const origins = review.getByTestId('ray-promote-pin-origins');
    const pyyaml = origins.locator('li[data-package="pyyaml"]');
    await expect(pyyaml).toContainText(/pyyaml==\d/);
    await expect(pyyaml).toContainText(`from the run ${runId} (`);
    await expect(review.getByTestId('ray-promote-requirements')).toContainText(
      /pyyaml==\d/
    );
    await expect(review.getByTestId('ray-promote-changed-files')).toHaveText(
      `The project’s files are as they were in the run ${runId}.`
    );
    const undeclared = review.getByTestId('ray-promote-undeclared');
    await expect(
      undeclared.locator('li[data-package="tornado"]')
    ).toContainText(/tornado==\d/);

    // this server's Python: the attribution follows, nothing run-specific is left
    await picker.selectOption('server');
    await expect(pyyaml).toContainText('from this server’s Python');
    await expect(pyyaml).not.toContainText(runId);
    await expect(
      review.getByTestId('ray-promote-source-description')
    ).toHaveAttribute('data-kind', 'server');
    await expect(undeclared).toHaveCount(0);
    await expect(review.getByTestId('ray-promote-changed-files')).toHaveCount(
      0
    );

    // a project file edited since the run is named once the run is picked again
    await page.contents.uploadContent(
      'def answer():\n    return 43\n',
      'text',
      `${project}/helpers.py`
    );
    await picker.focus();
    await picker.selectOption(runId);
    await expect(pyyaml).toContainText(`from the run ${runId} (`);
    const changed = review.getByTestId('ray-promote-changed-files');
    await expect(changed).toContainText(
      `The project’s files changed since the run ${runId}`
    );
    await expect(changed.locator('dd li')).toHaveText(['helpers.py']);

    // Add: the undeclared import goes into runtime_env.yaml at the run's version
    const tornado = undeclared.locator('li[data-package="tornado"]');
    const requirement = (await tornado.locator('code').innerText()).trim();
    expect(requirement).toMatch(/^tornado==\d/);
    // by keyboard: Enter on the button adds (the dialog's default button does not fire)
    await tornado
      .getByRole('button', { name: 'Add to runtime_env.yaml' })
      .focus();
    await page.keyboard.press('Enter');
    await expect(tornado).toHaveCount(0);
    // declared exactly now: the project's pin, whatever a run had
    await expect(origins.locator('li[data-package="tornado"]')).toHaveText(
      `${requirement} exact as the project declares it`
    );
    await expect(review.getByTestId('ray-promote-requirements')).toContainText(
      requirement
    );
    await expect(changed.locator('dd li')).toHaveText([
      'helpers.py',
      'runtime_env.yaml'
    ]);
    const saved = await page.request.get(
      `/api/contents/${project}/runtime_env.yaml?content=1&type=file&format=text`
    );
    const text = (await saved.json()).content as string;
    expect(text).toContain(`- ${requirement}`);
    expect(text).toContain('pyyaml>=5  # parsing the config');

    // light and dark: the section uses only JupyterLab's theme variables
    const section = review.getByTestId('ray-promote-source');
    await screenshot(section, 'light', testInfo);
    await page.theme.setDarkTheme();
    await expect(section).toBeVisible();
    await screenshot(section, 'dark', testInfo);

    await page
      .locator('.jp-Dialog-footer')
      .getByRole('button', { name: 'Cancel' })
      .click();
    await expect(dialog).toHaveCount(0);
  });
});

/**
 * The review's source section, attached to the test's report; with
 * RAY_DEV_SCREENSHOTS=1 also written to ui-tests/screenshots/.
 */
async function screenshot(
  section: Locator,
  theme: 'light' | 'dark',
  testInfo: TestInfo
): Promise<void> {
  const image = await section.screenshot();
  await testInfo.attach(`promote-source-${theme}`, {
    body: image,
    contentType: 'image/png'
  });
  if (process.env.RAY_DEV_SCREENSHOTS) {
    const dir = path.join(__dirname, '..', 'screenshots');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `promote-source-${theme}.png`), image);
  }
}
