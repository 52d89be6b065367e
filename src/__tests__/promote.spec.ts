/** "Promote to prod": the pure logic of the review and progress views, and the
 * client's promote routes against a stubbed `fetch`. */
import { nullTranslator } from '@jupyterlab/translation';
import { ServerConnection } from '@jupyterlab/services';

import { RayDevAPI } from '../api';
import {
  buildBlocker,
  buildPathText,
  differencesFromDev,
  entrypointCandidates,
  INITIAL_BUILD,
  kubectlApply,
  otherWarnings,
  pinnedReference,
  reduceBuild,
  shapeNumberLines,
  shapeSourceLine
} from '../promote/model';
import { plan, recordingFetch, type IRecordedCall } from './fixtures';

const trans = nullTranslator.load('jupyter_ray_dev');

describe('promote review', () => {
  it('lists the plan warnings the source block does not already show', () => {
    const run = { kind: 'no_succeeded_run', message: 'No succeeded run.' };
    const loopback = { kind: 'loopback_endpoint', message: 'Loopback.' };
    const changed = { kind: 'files_changed', message: 'Files changed.' };
    const base = plan();
    const reviewed = plan({
      source: { ...base.source, warnings: [run] },
      warnings: [run, loopback, changed],
      changed_files: {
        since: 'raysubmit_1',
        modified: ['a.py'],
        added: [],
        removed: [],
        counts: { modified: 1, added: 0, removed: 0 },
        changed: true
      }
    });
    expect(otherWarnings(reviewed)).toEqual([loopback]);
    // without the changed-files block, its warning has no other place
    expect(otherWarnings({ ...reviewed, changed_files: null })).toEqual([
      loopback,
      changed
    ]);
  });

  it('lists every difference from dev, exact pins left out', () => {
    const kinds = differencesFromDev(plan(), trans).map(d => d.kind);
    expect(kinds).toEqual([
      'pinned',
      'unpinned',
      'skipped',
      'excluded',
      'env',
      'secret'
    ]);
    const texts = differencesFromDev(plan(), trans).map(d => d.text);
    expect(texts[0]).toContain('pyyaml>=5 → pyyaml==6.0.2');
    expect(texts.join()).not.toContain('x==1');
  });

  it('says why Build and push cannot run', () => {
    expect(buildBlocker(plan(), trans)).toBeNull();
    const none = buildBlocker(
      plan({
        builders: [
          { name: 'buildah', available: false, reason: 'not installed' }
        ]
      }),
      trans
    );
    expect(none).toContain('buildah: not installed');
    expect(none).toContain('Export the context');
    // only the code changed since a pushed promotion: no builder is needed
    expect(
      buildBlocker(
        plan({
          builders: [
            { name: 'buildah', available: false, reason: 'not installed' }
          ],
          build_path: {
            path: 'code_layer',
            reason: 'only the code changed since promotion promo_1',
            earlier: { id: 'promo_1', image: 'r/p:1', digest: 'sha256:ab' }
          }
        }),
        trans
      )
    ).toBeNull();
    expect(buildBlocker(plan({ image: null }), trans)).toContain(
      'promote_registry'
    );
    expect(buildBlocker(plan({ push_possible: false }), trans)).toContain(
      'no registry'
    );
    expect(
      buildBlocker(plan({ manifest_errors: { RayJob: ['x'] } }), trans)
    ).toContain('CRDs');
  });

  it('says which way a build makes the image, and why', () => {
    expect(
      buildPathText(
        { path: 'full_build', reason: 'the base image changed', earlier: null },
        trans
      )
    ).toBe('Full build: the base image changed');
    expect(
      buildPathText(
        {
          path: 'code_layer',
          reason: 'only the code changed',
          earlier: { id: 'promo_1', image: 'r/p:1', digest: 'sha256:ab' }
        },
        trans
      )
    ).toBe('Code layer on r/p:1 (no builder): only the code changed');
  });

  it('says in one line where the shape comes from and why', () => {
    expect(shapeSourceLine(plan(), trans)).toBe(
      "Groups and resources from Ray's view of its nodes. Not running in a " +
        'KubeRay pod (RAY_CLUSTER_NAME is not set).'
    );
    const line = shapeSourceLine(
      plan({
        shape_source: {
          source: 'raycluster',
          raycluster: 'team/ray-dev',
          reason: 'read',
          dropped: ['head: port jupyter (8888, dev only)'],
          numbers: []
        }
      }),
      trans
    );
    expect(line).toContain('from the RayCluster team/ray-dev');
    expect(line).toContain('left out as dev-only: head: port jupyter');
  });

  it("says where each of Ray's numbers came from and flags machine totals", () => {
    const lines = shapeNumberLines(
      plan({
        shape_source: {
          source: 'ray',
          raycluster: null,
          reason: 'not in a pod',
          dropped: [],
          numbers: [
            {
              group: 'head',
              resource: 'cpu',
              value: '2',
              basis: 'container',
              used: true,
              from: "Ray's resources_total of the head node (CPU): this container's limit"
            },
            {
              group: 'head',
              resource: 'memory',
              value: '23Gi',
              basis: 'machine',
              used: false,
              from: "Ray's resources_total of the head node (memory): the machine's total"
            }
          ]
        }
      }),
      trans
    );
    expect(lines.map(l => l.flagged)).toEqual([false, true]);
    expect(lines[0].text).toBe(
      "head cpu 2: from Ray's resources_total of the head node (CPU): this container's limit"
    );
    expect(lines[1].text).toContain('23Gi is a machine total, not a request');
  });

  it('offers notebooks first, then scripts, never folders or data', () => {
    const items = [
      { name: 'helpers.py', type: 'file' },
      { name: 'data.csv', type: 'file' },
      { name: 'train.ipynb', type: 'notebook' },
      { name: 'pkg.py', type: 'directory' },
      { name: 'a.ipynb', type: 'notebook' }
    ];
    expect(entrypointCandidates('proj', items)).toEqual([
      'proj/a.ipynb',
      'proj/train.ipynb',
      'proj/helpers.py'
    ]);
    expect(entrypointCandidates('', [{ name: 'x.py', type: 'file' }])).toEqual([
      'x.py'
    ]);
  });
});

describe('promote results', () => {
  it('names the pushed image by its digest, registry port kept', () => {
    expect(pinnedReference('127.0.0.1:5000/team/proj:abc', 'sha256:1')).toBe(
      '127.0.0.1:5000/team/proj@sha256:1'
    );
    expect(pinnedReference('localhost:5000/proj', 'sha256:1')).toBe(
      'localhost:5000/proj@sha256:1'
    );
    expect(pinnedReference('r.io/p:t', null)).toBe('r.io/p:t');
  });

  it('quotes the heredoc so the shell expands nothing, whatever the YAML holds', () => {
    const yaml = 'env: $HOME\nRAY_DEV_MANIFESTS\n';
    const cmd = kubectlApply(yaml, 'prod');
    expect(
      cmd.startsWith("kubectl apply -n prod -f - <<'RAY_DEV_MANIFESTS_'\n")
    ).toBe(true);
    expect(cmd.endsWith('\nRAY_DEV_MANIFESTS_\n')).toBe(true);
    expect(cmd).toContain(yaml);
  });

  it('folds the log stream: lines once and in order, the step, the result', () => {
    let state = INITIAL_BUILD;
    state = reduceBuild(state, {
      type: 'line',
      n: 0,
      text: 'STEP 1/9: FROM x'
    });
    state = reduceBuild(state, { type: 'line', n: 1, text: 'pulling' });
    state = reduceBuild(state, { type: 'line', n: 1, text: 'pulling' }); // after a reconnect
    expect(state.lines).toEqual(['STEP 1/9: FROM x', 'pulling']);
    expect(state.next).toBe(2);
    expect(state.step).toBe('STEP 1/9: FROM x');
    const promotion = {
      id: 'promo_1',
      status: 'pushed',
      digest: 'sha256:1'
    } as any;
    state = reduceBuild(state, { type: 'end', promotion });
    expect(state.result).toBe(promotion);
  });
});

describe('RayDevAPI promote', () => {
  it('puts each project segment in the path, escaped, and the request in the body', async () => {
    const calls: IRecordedCall[] = [];
    const fetch = recordingFetch(calls, call => {
      if (call.url.includes('/promote/context')) {
        return new Response('gz', {
          headers: {
            'Content-Type': 'application/gzip',
            'Content-Disposition':
              'attachment; filename="proj-abc-context.tar.gz"',
            'X-Ray-Dev-Promotion': 'promo_1'
          }
        });
      }
      return new Response(JSON.stringify(plan()), {
        headers: { 'Content-Type': 'application/json' }
      });
    });
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/user/me/',
      wsUrl: 'ws://localhost:8888/user/me/',
      fetch
    });
    const api = new RayDevAPI({ serverSettings });
    await api.planPromotion('team/my proj', {
      entrypoint: 'team/my proj/a.py'
    });
    expect(new URL(calls[0].url).pathname).toBe(
      '/user/me/ray-dev/api/projects/team/my%20proj/promote/plan'
    );
    expect(calls[0].method).toBe('POST');
    expect(JSON.parse(calls[0].body)).toEqual({
      entrypoint: 'team/my proj/a.py'
    });
    const context = await api.exportPromotionContext('proj');
    expect(context.filename).toBe('proj-abc-context.tar.gz');
    expect(context.promotionId).toBe('promo_1');
    expect(context.blob.size).toBe(2);
    await api.packagePromotion('proj', 'art', { entrypoint: 'proj/a.py' });
    const last = calls[calls.length - 1];
    expect(new URL(last.url).pathname).toBe(
      '/user/me/ray-dev/api/projects/proj/promote/package'
    );
    expect(JSON.parse(last.body)).toEqual({
      entrypoint: 'proj/a.py',
      storage_root: 'art'
    });
    expect(api.promotionLogUrl('promo_1', 3)).toBe(
      'ws://localhost:8888/user/me/ray-dev/api/promotions/promo_1/stream?from=3'
    );
  });
});
