import * as fs from 'fs';
import * as path from 'path';

import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

/** With RAY_DEV_SCREENSHOTS=1, save the page to ui-tests/screenshots/ (README). */
export async function screenshot(
  page: IJupyterLabPageFixture,
  name: string
): Promise<void> {
  if (!process.env.RAY_DEV_SCREENSHOTS) {
    return;
  }
  const dir = path.join(__dirname, '..', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}
