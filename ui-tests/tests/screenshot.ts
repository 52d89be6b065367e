import * as fs from 'fs';
import * as path from 'path';

import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { TestInfo } from '@playwright/test';

/** ui-tests/screenshots/, where the README's pictures are kept. */
function readmeFile(name: string): string {
  const dir = path.join(__dirname, '..', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

/** With RAY_DEV_SCREENSHOTS=1, save the page to ui-tests/screenshots/ (README). */
export async function screenshot(
  page: IJupyterLabPageFixture,
  name: string
): Promise<void> {
  if (!process.env.RAY_DEV_SCREENSHOTS) {
    return;
  }
  await page.screenshot({ path: readmeFile(name) });
}

/**
 * Keep `image`: attached to the report as `name`, copied to `tmpFile`, and
 * with RAY_DEV_SCREENSHOTS=1 written to ui-tests/screenshots/ (README).
 */
export async function keepImage(
  testInfo: TestInfo,
  name: string,
  image: Buffer,
  tmpFile = `/tmp/${name}.png`
): Promise<void> {
  await testInfo.attach(name, { body: image, contentType: 'image/png' });
  fs.writeFileSync(tmpFile, image);
  if (process.env.RAY_DEV_SCREENSHOTS) {
    fs.writeFileSync(readmeFile(name), image);
  }
}
