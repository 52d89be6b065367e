/**
 * The Ray environment editor end to end, against the real server: open it
 * from a folder's context menu, edit an env var in the form, see the YAML
 * follow (comments kept), save with Ctrl+S, reload the page, find the value
 * still there; an invalid value shows the server's error inline.
 */
import { expect, test } from '@jupyterlab/galata';

import { screenshot } from './screenshot';

const YAML = `# the demo project's environment
env_vars:
  GREETING: hi   # shown by the driver
`;

test.describe('Ray environment editor', () => {
  test('edit an env var in the form, save, reload, still there', async ({
    page,
    tmpPath
  }) => {
    const project = `${tmpPath}/envproj`;
    const consoleErrors: string[] = [];
    page.on('console', message => {
      if (message.type() === 'error' || message.type() === 'warning') {
        consoleErrors.push(message.text());
      }
    });
    await page.contents.uploadContent(
      YAML,
      'text',
      `${project}/runtime_env.yaml`
    );
    await page.filebrowser.openDirectory(tmpPath);
    const folder = page.locator('.jp-DirListing-item', { hasText: 'envproj' });
    await expect(folder).toBeVisible();
    await folder.click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Edit Ray Environment…' }).click();

    const editor = page.locator('.jp-RayDev-RuntimeEnvEditor');
    await expect(editor.getByTestId('ray-env-status')).toHaveText('Saved');
    const value = editor.getByLabel('Value of GREETING');
    await expect(value).toHaveValue('hi');
    await value.fill('hello from the form');

    // the YAML view follows, comments kept
    const yaml = editor.locator('.jp-RayDev-envYaml');
    await expect(yaml).toContainText('GREETING: hello from the form');
    await expect(yaml).toContainText("# the demo project's environment");
    await expect(yaml).toContainText('# shown by the driver');
    // the YAML pane's editor is attached as a child widget, fits the pane
    // (scrolling inside it) and takes typing, which the form follows
    expect(consoleErrors.filter(e => e.includes('already attached'))).toEqual(
      []
    );
    // the generated form's validator compiles the shipped schema ($defs too)
    expect(consoleErrors.filter(e => e.includes('compiling schema'))).toEqual(
      []
    );
    const pane = (await yaml.boundingBox())!;
    const code = (await yaml.locator('.cm-editor').boundingBox())!;
    expect(code.height).toBeGreaterThan(100);
    expect(code.height).toBeLessThanOrEqual(pane.height + 1);
    await yaml.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('  SECOND: from yaml');
    await expect(editor.getByLabel('Value of SECOND')).toHaveValue('from yaml');
    await expect(value).toHaveValue('hello from the form');
    await expect(editor.getByTestId('ray-env-status')).toHaveText(
      'Unsaved changes'
    );
    // the working_dir meter measured the project
    await expect(editor.getByTestId('ray-env-size')).toContainText(
      'working_dir upload'
    );

    await screenshot(page, 'ray-env-editor');
    await value.focus();
    await page.keyboard.press('Control+s');
    await expect(editor.getByTestId('ray-env-status')).toHaveText('Saved');

    const response = await page.request.get(
      `/api/contents/${project}/runtime_env.yaml?content=1&type=file&format=text`
    );
    const saved = (await response.json()).content as string;
    expect(saved).toContain('GREETING: hello from the form');
    expect(saved).toContain('# shown by the driver');

    // after a reload of the page the editor (restored, or opened again: the
    // command just activates a restored one) reads the saved value back
    await page.reload();
    await page.evaluate(async (folder: string) => {
      await window.jupyterapp.commands.execute('ray-dev:edit-runtime-env', {
        project: folder
      });
    }, project);
    const restored = page.locator('.jp-RayDev-RuntimeEnvEditor');
    await expect(restored.getByLabel('Value of GREETING')).toHaveValue(
      'hello from the form',
      { timeout: 30000 }
    );
  });

  test('an invalid value shows the error inline', async ({ page, tmpPath }) => {
    const project = `${tmpPath}/badenv`;
    await page.contents.uploadContent(
      YAML,
      'text',
      `${project}/runtime_env.yaml`
    );
    await page.filebrowser.openDirectory(project);
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('ray-dev:edit-runtime-env');
    });
    const editor = page.locator('.jp-RayDev-RuntimeEnvEditor');
    await expect(editor.getByTestId('ray-env-status')).toHaveText('Saved');

    const timeout = editor.locator('#root_config_setup_timeout_seconds');
    await timeout.fill('0');
    await expect(editor.locator('.jp-RayDev-envYaml')).toContainText(
      'setup_timeout_seconds: 0'
    );
    await expect(editor.locator('.jp-RayDev-envSchemaForm')).toContainText(
      'must be a number of seconds above 0'
    );
    await screenshot(page, 'ray-env-invalid');

    // saving is refused while it is invalid; fixed, the error goes
    await page.keyboard.press('Control+s');
    await expect(editor.locator('.jp-RayDev-envBanner')).toContainText(
      'Not saved'
    );
    await timeout.fill('60');
    await expect(editor.locator('.jp-RayDev-envSchemaForm')).not.toContainText(
      'must be a number of seconds above 0'
    );
    await expect(editor.getByText('Valid for Ray')).toBeVisible();
  });
});
