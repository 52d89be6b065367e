/**
 * "Apply to cluster" rendered in jsdom with the API client and the dialogs
 * stubbed: disabled outside Kubernetes, a dry run first, nothing applied
 * without the dialog's Apply, the server's error words shown as they are.
 */
import { showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { ApiError, type IApplyResult, type RayDevAPI } from '../api';
import { ApplyToCluster } from '../promote/apply';
import { waitFor } from './wait';

jest.mock('@jupyterlab/apputils', () => ({
  ...jest.requireActual('@jupyterlab/apputils'),
  showDialog: jest.fn(),
  showErrorMessage: jest.fn(async () => undefined)
}));

const dialog = showDialog as jest.Mock;
const errorMessage = showErrorMessage as jest.Mock;

const MANIFESTS = `kind: RayJob
metadata:
  name: proj
spec:
  entrypoint: python train.py
---
kind: RayCluster
metadata:
  name: proj-cluster
spec: {}
`;

function applyResult(dryRun: boolean): IApplyResult {
  return {
    dry_run: dryRun,
    kind: 'RayJob',
    name: 'proj',
    namespace: 'prod',
    exists: false,
    changed: true,
    diff: '--- /dev/null\n+++ RayJob prod/proj (after apply)\n@@ -0,0 +1 @@\n+kind: RayJob\n',
    result: {},
    status: dryRun
      ? null
      : {
          kind: 'RayJob',
          name: 'proj',
          namespace: 'prod',
          job_deployment_status: 'Complete',
          job_status: 'SUCCEEDED',
          dashboard_url: null
        }
  };
}

function fakeApi(options: {
  inKubernetes: boolean;
  apply?: (manifest: any, options: any) => Promise<IApplyResult>;
}) {
  const applyCalls: Array<{ manifest: any; dryRun: boolean | undefined }> = [];
  const statusCalls: string[] = [];
  const api = {
    getKubernetes: async () => ({
      in_kubernetes: options.inKubernetes,
      message: options.inKubernetes ? null : 'Not running in Kubernetes.',
      raycluster: null
    }),
    applyManifest: async (manifest: any, opts: any) => {
      applyCalls.push({ manifest, dryRun: opts?.dryRun });
      return options.apply
        ? options.apply(manifest, opts)
        : applyResult(opts?.dryRun ?? true);
    },
    getKubeRayStatus: async (kind: string, name: string, ns?: string) => {
      statusCalls.push(`${kind}/${name}/${ns}`);
      return {
        kind,
        name,
        namespace: ns ?? null,
        job_deployment_status: 'Running',
        job_status: 'RUNNING'
      };
    }
  } as unknown as RayDevAPI;
  return { api, applyCalls, statusCalls };
}

function render(api: RayDevAPI, manifests = MANIFESTS): Widget {
  const widget = ReactWidget.create(
    <ApplyToCluster
      api={api}
      manifests={manifests}
      trans={nullTranslator.load('jupyter_ray_dev')}
    />
  );
  Widget.attach(widget, document.body);
  return widget;
}

function button(widget: Widget, id: string): HTMLButtonElement | null {
  return widget.node.querySelector(`[data-testid="${id}"]`);
}

afterEach(() => {
  dialog.mockReset();
  errorMessage.mockClear();
});

describe('Apply to cluster', () => {
  it('is disabled outside Kubernetes, the server saying why', async () => {
    const { api, applyCalls } = fakeApi({ inKubernetes: false });
    const widget = render(api);
    await waitFor(
      () =>
        button(widget, 'ray-apply-button')?.title ===
        'Not running in Kubernetes.'
    );
    expect(button(widget, 'ray-apply-button')!.disabled).toBe(true);
    expect(applyCalls).toEqual([]);
    widget.dispose();
  });

  it('dry-runs the RayJob by default and applies nothing on Cancel', async () => {
    const { api, applyCalls } = fakeApi({ inKubernetes: true });
    dialog.mockResolvedValue({ button: { accept: false, actions: [] } });
    const widget = render(api);
    await waitFor(() => button(widget, 'ray-apply-button')?.disabled === false);
    const select = widget.node.querySelector(
      '[data-testid="ray-apply-select"]'
    ) as HTMLSelectElement;
    expect(Array.from(select.options).map(o => o.textContent)).toEqual([
      'RayJob/proj',
      'RayCluster/proj-cluster'
    ]);
    expect(applyCalls).toEqual([]);
    button(widget, 'ray-apply-button')!.click();
    await waitFor(() => dialog.mock.calls.length === 1);
    expect(applyCalls).toHaveLength(1);
    expect(applyCalls[0].dryRun).toBe(true);
    expect(applyCalls[0].manifest.kind).toBe('RayJob');
    expect(dialog.mock.calls[0][0].title).toBe(
      'Create RayJob/proj on the cluster?'
    );
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(applyCalls).toHaveLength(1);
    expect(button(widget, 'ray-apply-status')).toBeNull();
    widget.dispose();
  });

  it('applies on the dialog’s Apply, then shows and refreshes the status', async () => {
    const { api, applyCalls, statusCalls } = fakeApi({ inKubernetes: true });
    dialog.mockResolvedValue({ button: { accept: true, actions: [] } });
    const widget = render(api);
    await waitFor(() => button(widget, 'ray-apply-button')?.disabled === false);
    button(widget, 'ray-apply-button')!.click();
    await waitFor(
      () => !!widget.node.querySelector('[data-testid="ray-apply-status"]')
    );
    expect(applyCalls.map(c => c.dryRun)).toEqual([true, false]);
    const text = widget.node.textContent ?? '';
    expect(text).toContain('Complete');
    expect(text).toContain('SUCCEEDED');
    // settled: no polling, only the button asks again
    expect(statusCalls).toEqual([]);
    button(widget, 'ray-apply-refresh')!.click();
    await waitFor(() => (widget.node.textContent ?? '').includes('RUNNING'));
    expect(statusCalls).toEqual(['RayJob/proj/prod']);
    widget.dispose();
  });

  it('shows an RBAC refusal in the server’s words, no dialog', async () => {
    const refusal =
      'Kubernetes refused: system:serviceaccount:dev:jupyter may not create rayjobs.ray.io in namespace "prod". Add this rule to a Role bound to it (see deploy/dev/rbac.yaml):\n- {apiGroups: [ray.io], resources: [rayjobs], verbs: [create]}';
    const { api, applyCalls } = fakeApi({
      inKubernetes: true,
      apply: async () => {
        throw new ApiError({
          status: 403,
          reason: 'kubernetes_forbidden',
          message: refusal
        });
      }
    });
    const widget = render(api);
    await waitFor(() => button(widget, 'ray-apply-button')?.disabled === false);
    button(widget, 'ray-apply-button')!.click();
    await waitFor(() => errorMessage.mock.calls.length === 1);
    expect(errorMessage.mock.calls[0][1].message.props.children).toBe(refusal);
    expect(dialog).not.toHaveBeenCalled();
    expect(applyCalls).toHaveLength(1);
    widget.dispose();
  });

  it('is disabled when the manifests hold nothing to apply', async () => {
    const { api } = fakeApi({ inKubernetes: true });
    const widget = render(api, 'kind: Secret\nmetadata: {name: s}\n');
    await waitFor(() =>
      (button(widget, 'ray-apply-button')?.title ?? '').includes(
        'no RayCronJob, RayJob'
      )
    );
    expect(button(widget, 'ray-apply-button')!.disabled).toBe(true);
    widget.dispose();
  });
});
