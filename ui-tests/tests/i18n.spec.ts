/**
 * The UI in Simplified Chinese. Lab is switched to zh_CN through the
 * translation extension's `locale` setting, as Settings → Language does:
 * JupyterLab's own strings come from its language pack (a test dependency),
 * the extension's from its catalog, which the server finds through the
 * package's `jupyterlab.locale` entry point. Product names stay as they are.
 */
import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    '@jupyterlab/translation-extension:plugin': { locale: 'zh_CN' }
  },
  // Galata waits for a tab named "Launcher", which is 启动页 in Chinese
  waitForApplication: async ({ baseURL }, use) => {
    await use(async page => {
      await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
      await page
        .getByRole('main')
        .getByRole('tab', { name: '启动页' })
        .waitFor({ state: 'visible' });
    });
  }
});

function byId(page: IJupyterLabPageFixture, id: string): Locator {
  return page.locator(`[id="${id}"]`);
}

test.describe('In Simplified Chinese', () => {
  test('the Ray panel, the Storage panel and a dialog', async ({ page }) => {
    // JupyterLab itself: the language pack is in use
    await expect(page.locator('#jp-menu-panel')).toContainText('文件');

    // the command palette opens the Ray panel
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await palette.locator('.lm-CommandPalette-input').fill('Ray');
    const item = palette.locator('.lm-CommandPalette-item', {
      hasText: '打开 Ray 面板'
    });
    await expect(item).toBeVisible();
    await item.click();

    // the Ray panel: section titles, the cluster's facts and resources
    const ray = byId(page, 'jupyter-ray-dev:panel');
    const titles = ray.locator('.lm-AccordionPanel-title');
    await expect(titles.filter({ hasText: '集群' })).toHaveCount(1);
    await expect(titles.filter({ hasText: '作业' })).toHaveCount(1);
    await expect(async () => {
      // a head that has just started may answer 503 for a moment
      if (await ray.getByTestId('ray-error').isVisible()) {
        await ray.getByTestId('ray-refresh').click();
      }
      await expect(ray.getByTestId('ray-node-count')).toContainText('个存活', {
        timeout: 5000
      });
    }).toPass({ timeout: 90 * 1000 });
    const facts = ray.getByTestId('ray-cluster-facts');
    await expect(facts).toContainText('地址');
    await expect(facts).toContainText('Python');
    await expect(ray.getByTestId('ray-kuberay')).toHaveText(
      '未在 KubeRay 中运行'
    );
    await expect(ray.getByText('资源', { exact: true })).toBeVisible();
    await expect(ray.getByTestId('ray-head-badge')).toHaveText('头节点');
    await expect(ray.getByTestId('ray-dashboard-link')).toHaveText(
      '打开 Ray 仪表盘'
    );

    // the Storage panel
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('ray-dev:open-storage')
    );
    const storage = byId(page, 'jupyter-ray-dev:storage');
    await expect(storage.getByTestId('storage-root')).toHaveAttribute(
      'aria-label',
      '存储根'
    );
    await expect(storage.getByTestId('storage-list')).toHaveAttribute(
      'aria-label',
      '文件夹内容'
    );
    const newFolder = storage.getByTestId('storage-new-folder');
    await expect(newFolder).toHaveAttribute('title', '新建文件夹');

    // a dialog: the new-folder prompt, its own strings and Lab's Cancel
    await newFolder.click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-Dialog-header')).toHaveText('新建文件夹');
    await expect(dialog).toContainText('中新文件夹的名称');
    await expect(dialog.locator('input')).toHaveAttribute(
      'placeholder',
      '文件夹名称'
    );
    await expect(dialog.getByRole('button', { name: '创建' })).toBeVisible();
    await dialog.getByRole('button', { name: '取消' }).click();
    await expect(dialog).toHaveCount(0);
  });
});
