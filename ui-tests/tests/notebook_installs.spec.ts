/**
 * Packages installed from a notebook, end to end: a notebook's real kernel
 * (started by Lab, the recorder loaded into it by the server) runs
 * `%pip install` of a wheel it builds itself (no network: a file,
 * `--no-index`, into a folder it puts on its sys.path); the project's
 * runtime_env editor offers it, *Add to runtime_env.yaml* writes it pinned;
 * a second install is dismissed from the Ray sidebar's section.
 */
import { expect, test } from '@jupyterlab/galata';

import { notebook } from './notebook';

const SIDEBAR_ID = 'jupyter-ray-dev:panel';

// a dismissal holds for the notebook's path and the version: another run's must not
const RUN = String(Date.now());

const BUILD = `import base64, hashlib, sys, tempfile, zipfile, pathlib
base = pathlib.Path(tempfile.mkdtemp())
target = base / 'site'
target.mkdir()
sys.path.insert(0, str(target))
def wheel(name, version):
    mod = name.replace('-', '_')
    dist = f'{mod}-{version}.dist-info'
    files = {f'{mod}/__init__.py': 'X = 1\\n',
             f'{dist}/METADATA': f'Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n',
             f'{dist}/WHEEL': 'Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}
    rec = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},{len(t)}" for p, t in files.items()]
    files[f'{dist}/RECORD'] = '\\n'.join(rec + [f'{dist}/RECORD,,']) + '\\n'
    path = base / f'{mod}-{version}-py3-none-any.whl'
    with zipfile.ZipFile(path, 'w') as z:
        for p, t in files.items():
            z.writestr(p, t)
    return path
tiny, other = wheel('galata-tiny', '0.4.2'), wheel('galata-other', '1.1.RUN')
print('built')`.replace('RUN', RUN);

test.describe('Packages installed from a notebook', () => {
  test('offered in the editor, added pinned; dismissed from the sidebar', async ({
    page,
    tmpPath
  }) => {
    const project = `${tmpPath}/nbproj`;
    await page.contents.uploadContent(
      'pip:\n  - requests  # HTTP\n',
      'text',
      `${project}/runtime_env.yaml`
    );
    await page.contents.uploadContent(
      notebook([
        BUILD,
        '%pip install --no-index --no-deps --target {target} {tiny}',
        '%pip install --no-index --no-deps --target {target} {other}'
      ]),
      'text',
      `${project}/train.ipynb`
    );
    await page.filebrowser.openDirectory(project);
    await page.notebook.open('train.ipynb');
    await page.notebook.activate('train.ipynb');
    await page.notebook.runCellByCell();
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText(
      'built'
    );

    await page.evaluate(async (folder: string) => {
      await (window as any).jupyterapp.commands.execute(
        'ray-dev:edit-runtime-env',
        { project: folder }
      );
    }, project);
    const editor = page.locator('.jp-RayDev-RuntimeEnvEditor');
    const offered = editor.locator('li[data-package="galata-tiny"]');
    await expect(offered).toContainText(
      `Installed in notebook ${project}/train.ipynb, not in runtime_env.yaml:`,
      { timeout: 30000 }
    );
    await expect(offered).toContainText('galata-tiny==0.4.2');
    await offered
      .getByRole('button', { name: 'Add to runtime_env.yaml' })
      .click();
    await expect(editor.locator('.jp-RayDev-envYaml')).toContainText(
      'galata-tiny==0.4.2'
    );
    await expect(offered).toHaveCount(0);
    const response = await page.request.get(
      `/api/contents/${project}/runtime_env.yaml?content=1&type=file&format=text`
    );
    const saved = (await response.json()).content as string;
    expect(saved).toContain('- galata-tiny==0.4.2');
    expect(saved).toContain('requests  # HTTP');

    await page.sidebar.openTab(SIDEBAR_ID);
    const section = page.locator('.jp-RayDev-installsPanel');
    const other = section.locator('li[data-package="galata-other"]');
    await expect(other).toContainText(`galata-other==1.1.${RUN}`, {
      timeout: 30000
    });
    await other.getByRole('button', { name: 'Dismiss' }).click();
    await expect(other).toHaveCount(0);
    await expect(section.locator('li[data-package="galata-tiny"]')).toHaveCount(
      0
    );
  });
});
