/**
 * Packages notebooks installed that runtime_env.yaml lacks: the client's
 * URLs (stubbed `fetch`), the sidebar section rendered in jsdom with *Add to
 * runtime_env.yaml* and *Dismiss*, and the editor model's *Add* with and
 * without unsaved changes. The real server and kernels are exercised by
 * tests/test_notebook_installs.py.
 */
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { INotebookInstall, RayDevAPI } from '../api';
import { RayDevAPI as Client } from '../api';
import { NotebookInstallsSection } from '../runtimeenv/installs';
import { RuntimeEnvModel } from '../runtimeenv/model';
import { waitFor } from './wait';

function install(over: Partial<INotebookInstall> = {}): INotebookInstall {
  return {
    id: 'a1',
    name: 'tiny-pkg',
    version: '0.1.3',
    requirement: 'tiny-pkg==0.1.3',
    declared: null,
    notebook: 'proj/train.ipynb',
    project: 'proj',
    kernel_id: 'k1',
    running: true,
    command: '%pip install tiny-pkg',
    url: null,
    installed: 1700000000,
    ...over
  };
}

describe('the client', () => {
  it('knows the notebook-installs URLs', async () => {
    const calls: Array<{ url: string; method: string; body: string }> = [];
    const fetch = async (
      input: RequestInfo | URL,
      init?: RequestInit
    ): Promise<Response> => {
      const request = input instanceof Request ? input : null;
      const url = request ? request.url : String(input);
      calls.push({
        url,
        method: request ? request.method : (init?.method ?? 'GET'),
        body: request ? await request.text() : String(init?.body ?? '')
      });
      const body = url.includes('dismiss')
        ? { dismissed: ['a1'] }
        : url.includes('runtime-env/packages')
          ? { project: 'p', path: 'p/runtime_env.yaml', runtime_env: {} }
          : { project: null, installs: [install()] };
      return new Response(JSON.stringify(body), { status: 200 });
    };
    const api = new Client({
      serverSettings: ServerConnection.makeSettings({
        baseUrl: 'http://h/',
        fetch
      })
    });
    expect((await api.getNotebookInstalls()).installs).toHaveLength(1);
    await api.getNotebookInstalls('team/proj');
    await api.dismissNotebookInstalls(['a1']);
    await api.addRuntimeEnvPackages('team/proj', ['tiny-pkg==0.1.3'], '"e1"');
    expect(calls.map(c => [c.method, new URL(c.url).pathname])).toEqual([
      ['GET', '/ray-dev/api/notebook-installs'],
      ['GET', '/ray-dev/api/projects/team%2Fproj/notebook-installs'],
      ['POST', '/ray-dev/api/notebook-installs/dismiss'],
      ['POST', '/ray-dev/api/projects/team%2Fproj/runtime-env/packages']
    ]);
    expect(JSON.parse(calls[2].body)).toEqual({ ids: ['a1'] });
    expect(JSON.parse(calls[3].body)).toEqual({
      requirements: ['tiny-pkg==0.1.3']
    });
  });
});

function fakeApi(items: INotebookInstall[]) {
  const log: string[] = [];
  let current = [...items];
  const api = {
    getNotebookInstalls: async (project?: string) => {
      log.push(`list ${project ?? '*'}`);
      return { project: project ?? null, installs: current };
    },
    addRuntimeEnvPackages: async (project: string, reqs: string[]) => {
      log.push(`add ${project} ${reqs.join(',')}`);
      current = current.filter(i => !reqs.includes(i.requirement));
      return {};
    },
    dismissNotebookInstalls: async (ids: string[]) => {
      log.push(`dismiss ${ids.join(',')}`);
      current = current.filter(i => !ids.includes(i.id));
    }
  } as unknown as RayDevAPI;
  return { api, log };
}

function buttons(widget: Widget): HTMLButtonElement[] {
  return Array.from(widget.node.querySelectorAll('button'));
}

describe('the Ray sidebar section', () => {
  it('lists installs with Add (pinned) and Dismiss', async () => {
    const { api, log } = fakeApi([
      install(),
      install({
        id: 'b2',
        name: 'extra-pkg',
        version: '2.0',
        requirement: 'extra-pkg==2.0',
        declared: 'extra-pkg==1.0',
        notebook: 'other/nb.ipynb',
        project: 'other'
      })
    ]);
    const section = new NotebookInstallsSection({
      api,
      translator: nullTranslator
    });
    Widget.attach(section, document.body);
    await waitFor(() => section.node.querySelectorAll('li').length === 2);
    const text = section.node.textContent ?? '';
    expect(text).toContain(
      'Installed in notebook proj/train.ipynb, not in runtime_env.yaml:'
    );
    expect(text).toContain('tiny-pkg==0.1.3');
    expect(text).toContain('(runtime_env.yaml has extra-pkg==1.0)');

    const add = buttons(section).find(
      b => b.textContent === 'Add to runtime_env.yaml'
    )!;
    add.click();
    await waitFor(() => section.node.querySelectorAll('li').length === 1);
    expect(log).toContain('add proj tiny-pkg==0.1.3');

    buttons(section)
      .find(b => b.textContent === 'Dismiss')!
      .click();
    await waitFor(
      () =>
        (section.node.textContent ?? '').includes(
          'No package installed from a notebook is missing'
        ) && section.node.querySelectorAll('li').length === 0
    );
    expect(log).toContain('dismiss b2');
    section.dispose();
  });

  it('shows a failed action and keeps the item', async () => {
    const { api } = fakeApi([install()]);
    (api as any).dismissNotebookInstalls = async () => {
      throw new Error('disk full');
    };
    const section = new NotebookInstallsSection({
      api,
      translator: nullTranslator
    });
    Widget.attach(section, document.body);
    await waitFor(() => section.node.querySelectorAll('li').length === 1);
    buttons(section)
      .find(b => b.textContent === 'Dismiss')!
      .click();
    await waitFor(() => (section.node.textContent ?? '').includes('disk full'));
    expect(section.node.querySelectorAll('li')).toHaveLength(1);
    section.dispose();
  });
});

describe("the editor model's Add", () => {
  function model(yaml: string) {
    const calls: string[] = [];
    let text = yaml;
    const api = {
      getRuntimeEnv: async () => ({
        project: 'proj',
        path: 'proj/runtime_env.yaml',
        runtime_env: {},
        yaml: text,
        etag: '"e1"',
        exists: true
      }),
      addRuntimeEnvPackages: async (
        project: string,
        reqs: string[],
        etag: string
      ) => {
        calls.push(`add ${project} ${reqs.join(',')} ${etag}`);
        text = `${text}  - ${reqs[0]}\n`;
        return {};
      },
      validateRuntimeEnv: async () => ({
        valid: true,
        errors: [],
        warnings: []
      }),
      getWorkingDirSize: async () => null
    } as unknown as RayDevAPI;
    const m = new RuntimeEnvModel({
      api,
      project: 'proj',
      trans: nullTranslator.load('jupyter_ray_dev'),
      validateDelay: 100000
    });
    return { m, calls };
  }

  it('writes a saved file on the server with its ETag and reads it again', async () => {
    const { m, calls } = model('pip:\n  - requests\n');
    await m.load();
    await m.addRequirement('tiny-pkg==0.1.3');
    expect(calls).toEqual(['add proj tiny-pkg==0.1.3 "e1"']);
    expect(m.text).toContain('- tiny-pkg==0.1.3');
    expect(m.dirty).toBe(false);
    m.dispose();
  });

  it('joins unsaved changes in the pip list instead', async () => {
    const { m, calls } = model('pip:\n  - requests\n');
    await m.load();
    m.setText('pip:\n  - requests\n  - six\n');
    await m.addRequirement('tiny-pkg==0.1.3');
    expect(calls).toEqual([]);
    expect(m.text).toContain('tiny-pkg==0.1.3');
    expect(m.text).toContain('six');
    expect(m.dirty).toBe(true);
    m.dispose();
  });
});
