/**
 * The Kubernetes methods of the API client against a stubbed `fetch` (the
 * real server is covered by tests/test_k8s_api.py against a real kube-apiserver).
 */
import { ApiError } from '../api';
import { apiWith, json } from './stub-fetch';

const BASE = '/user/me/ray-dev/api/kubernetes';
const MANIFEST = {
  apiVersion: 'ray.io/v1',
  kind: 'RayJob',
  metadata: { name: 'train' }
};

describe('RayDevAPI kubernetes', () => {
  it('reads the RayCluster', async () => {
    const { api, calls } = apiWith(() =>
      json({ in_kubernetes: false, message: 'Not running', raycluster: null })
    );
    expect((await api.getKubernetes()).in_kubernetes).toBe(false);
    expect(calls[0].path).toBe(BASE);
  });

  it('applies as a dry run unless told otherwise', async () => {
    const { api, calls } = apiWith(() => json({ dry_run: true, diff: '' }));
    await api.applyManifest(MANIFEST);
    await api.applyManifest(MANIFEST, { dryRun: false });
    expect(calls.map(c => [c.method, c.path])).toEqual([
      ['POST', `${BASE}/apply`],
      ['POST', `${BASE}/apply`]
    ]);
    expect(JSON.parse(calls[0].body)).toEqual({
      manifest: MANIFEST,
      dry_run: true,
      force: false
    });
    expect(JSON.parse(calls[1].body).dry_run).toBe(false);
  });

  it('asks for status by kind and name, the namespace in the query', async () => {
    const { api, calls } = apiWith(() =>
      json({ kind: 'RayJob', name: 'train', namespace: 'ns' })
    );
    await api.getKubeRayStatus('RayJob', 'train', 'ns');
    expect(calls[0].path).toBe(`${BASE}/status/RayJob/train`);
    expect(calls[0].query.get('namespace')).toBe('ns');
  });

  it('rejects an RBAC refusal with its rule', async () => {
    const { api } = apiWith(() =>
      json(
        {
          message: 'Kubernetes refused: ...',
          reason: 'kubernetes_forbidden',
          verb: 'create',
          rule: { verbs: ['create'] }
        },
        403
      )
    );
    const error = await api.applyManifest(MANIFEST).catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.reason).toBe('kubernetes_forbidden');
    expect(error.details.verb).toBe('create');
  });
});
