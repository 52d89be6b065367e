/** Helpers the specs share (not a spec: Playwright runs only *.spec.ts). */
import { expect, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

/** An .ipynb's JSON: a Python 3 notebook of these code cells, never run. */
export function notebook(sources: string[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      }
    },
    cells: sources.map((source, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source
    }))
  });
}

/**
 * Right-click the project folder `folder` in `parent`, *Promote to prod…*: the
 * dialog's review, once the server computed it (which takes a while).
 */
export async function openPromoteReview(
  page: IJupyterLabPageFixture,
  parent: string,
  folder: string
): Promise<Locator> {
  const review = page.locator('.jp-Dialog').getByTestId('ray-promote-review');
  await page.filebrowser.openDirectory(parent);
  await page
    .locator('.jp-DirListing-item', { hasText: folder })
    .click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Promote to prod…' }).click();
  await expect(review).toBeVisible({ timeout: 60000 });
  return review;
}

/**
 * Right-click `file` in `project`, *Run as Ray job…*, Run: the job's id once
 * its log tab says SUCCEEDED.
 */
export async function runToSucceeded(
  page: IJupyterLabPageFixture,
  project: string,
  file: string,
  timeout: number
): Promise<string> {
  await page.filebrowser.openDirectory(project);
  await page
    .locator('.jp-DirListing-item', { hasText: file })
    .click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Run as Ray job…' }).click();
  const runDialog = page.locator('.jp-Dialog');
  await expect(runDialog.getByTestId('ray-run-form')).toContainText(file);
  const submitted = page.waitForResponse(
    response =>
      response.request().method() === 'POST' &&
      /\/ray-dev\/api\/jobs(\?|$)/.test(response.url())
  );
  await runDialog.getByRole('button', { name: 'Run' }).click();
  const reply = await submitted;
  expect(reply.status(), await reply.text()).toBe(201);
  const runId: string = (await reply.json()).submission_id;
  // the newest log tab is this run's
  const logTab = page.locator('.jp-RayDev-logWidget').last();
  await expect(logTab.getByTestId('ray-job-status')).toHaveAttribute(
    'data-status',
    'SUCCEEDED',
    { timeout }
  );
  return runId;
}
