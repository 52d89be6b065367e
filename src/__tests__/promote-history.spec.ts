/** The Promotions history: the pure logic of the view (selection, comparison, re-apply,
 * keyboard) and the client's history routes against a stubbed `fetch`. */
import { nullTranslator } from '@jupyterlab/translation';

import {
  type IPromotion,
  type IPromotionDiff,
  type IStorageRoot
} from '../api';
import {
  comparePair,
  diffSummary,
  lockChangeLines,
  manifestsFilename,
  moveFocus,
  provenanceRows,
  reapplyBlocker,
  reapplyKinds,
  shortDigest,
  sourceRunLine,
  toggleSelection
} from '../promote/history-model';
import { objectStoreRoots } from '../promote/model';
import { NUMPY_MISMATCH, recordingFetch, type IRecordedCall } from './fixtures';
import { apiOver, json } from './stub-fetch';

const trans = nullTranslator.load('jupyter_ray_dev');

function promotion(overrides: Partial<IPromotion> = {}): IPromotion {
  return {
    id: 'promo_1',
    project: 'team/proj',
    entrypoint: 'team/proj/train.ipynb',
    kind: 'build',
    status: 'pushed',
    inputs_hash: 'abc',
    image: 'registry.example.com/team/proj:abc',
    digest: 'sha256:0123456789abcdef0123',
    builder: 'buildah',
    error: null,
    user: null,
    created: 100,
    finished: 110,
    ...overrides
  };
}

describe('history selection', () => {
  it('keeps at most two, dropping the earliest chosen, and unselects on a second press', () => {
    let selected = toggleSelection([], 'a');
    selected = toggleSelection(selected, 'b');
    expect(selected).toEqual(['a', 'b']);
    expect(toggleSelection(selected, 'c')).toEqual(['b', 'c']);
    expect(toggleSelection(selected, 'a')).toEqual(['b']);
  });

  it('compares older to newer by creation time, whatever the order of selection', () => {
    const old = promotion({ id: 'old', created: 1 });
    const recent = promotion({ id: 'new', created: 2 });
    const pair = comparePair(['new', 'old'], [recent, old]);
    expect(pair?.older.id).toBe('old');
    expect(pair?.newer.id).toBe('new');
    expect(comparePair(['new'], [recent, old])).toBeNull();
    expect(comparePair(['new', 'gone'], [recent, old])).toBeNull();
  });
});

describe('history entries', () => {
  it('refuses to re-apply what produced no image', () => {
    expect(reapplyBlocker(promotion(), trans)).toBeNull();
    expect(reapplyBlocker(promotion({ status: 'exported' }), trans)).toBeNull();
    expect(reapplyBlocker(promotion({ status: 'failed' }), trans)).toMatch(
      /failed/
    );
    expect(reapplyBlocker(promotion({ status: 'building' }), trans)).toMatch(
      /running/
    );
    // built, held back by its parity check: in no registry yet
    expect(reapplyBlocker(promotion({ status: 'blocked' }), trans)).toMatch(
      /not pushed/
    );
  });

  it('offers the KubeRay kinds of the manifests, RayJob first, none for bad YAML', () => {
    const manifests =
      'kind: RayCluster\nmetadata: {name: c}\n---\nkind: RayJob\nmetadata: {name: j}\n' +
      '---\nkind: ConfigMap\nmetadata: {name: m}\n';
    expect(reapplyKinds(manifests)).toEqual(['RayCluster', 'RayJob']);
    expect(reapplyKinds('kind: [unclosed')).toEqual([]);
  });

  it('shortens digests and names the download after the project and the promotion', () => {
    expect(shortDigest('sha256:0123456789abcdef0123')).toBe(
      'sha256:0123456789ab'
    );
    expect(shortDigest(null)).toBe('');
    expect(manifestsFilename(promotion())).toBe('proj-promo_1-manifests.yaml');
    expect(manifestsFilename(promotion({ project: '' }))).toBe(
      'project-promo_1-manifests.yaml'
    );
  });

  it('moves the focus with the arrow keys, Home and End, within the list', () => {
    expect(moveFocus(0, 'ArrowDown', 3)).toBe(1);
    expect(moveFocus(2, 'ArrowDown', 3)).toBe(2);
    expect(moveFocus(0, 'ArrowUp', 3)).toBe(0);
    expect(moveFocus(1, 'End', 3)).toBe(2);
    expect(moveFocus(2, 'Home', 3)).toBe(0);
    expect(moveFocus(1, 'a', 3)).toBeNull();
    expect(moveFocus(0, 'ArrowDown', 0)).toBeNull();
  });

  it('counts the artifacts that changed', () => {
    const diff = {
      from: 'a',
      to: 'b',
      same_inputs: false,
      artifacts: [
        { name: 'Dockerfile', kind: 'dockerfile' as const, diff: '' },
        { name: 'RayJob/p', kind: 'manifest' as const, diff: '@@ -1 +1 @@\n' }
      ],
      dockerfile: '',
      requirements: '',
      manifests: ''
    };
    expect(diffSummary(diff)).toEqual({ changed: 1, total: 2 });
  });
});

describe('runtime_env path', () => {
  it('uploads only to writable s3:// and gs:// roots', () => {
    const root = (
      name: string,
      protocol: IStorageRoot['protocol'],
      ro = false
    ) => ({
      name,
      url: `${protocol}://x`,
      protocol,
      read_only: ro,
      option_names: []
    });
    const roots = [
      root('nfs', 'file'),
      root('art', 's3'),
      root('ro', 'gs', true),
      root('g', 'gs')
    ];
    expect(objectStoreRoots(roots).map(r => r.name)).toEqual(['art', 'g']);
  });
});

describe('RayDevAPI history', () => {
  it('diffs newer against older and re-applies with a dry run by default', async () => {
    const calls: IRecordedCall[] = [];
    const fetch = recordingFetch(calls, () => json({}));
    const api = apiOver(fetch, { baseUrl: 'http://localhost:8888/' });
    await api.diffPromotions('promo_2', 'promo_1');
    const diffUrl = new URL(calls[0].url);
    expect(diffUrl.pathname).toBe('/ray-dev/api/promotions/promo_2/diff');
    expect(diffUrl.searchParams.get('other')).toBe('promo_1');
    await api.reapplyPromotion('promo_2');
    expect(calls[1].method).toBe('POST');
    expect(new URL(calls[1].url).pathname).toBe(
      '/ray-dev/api/promotions/promo_2/apply'
    );
    expect(JSON.parse(calls[1].body)).toEqual({ dry_run: true, force: false });
    await api.reapplyPromotion('promo_2', {
      kind: 'RayService',
      dryRun: false
    });
    expect(JSON.parse(calls[2].body)).toEqual({
      dry_run: false,
      force: false,
      kind: 'RayService'
    });
  });
});

describe('provenance', () => {
  it('lists the source run, the lock, the parity check and each override', () => {
    const rows = provenanceRows(
      {
        source_run: { id: 'raysubmit_a', time: null },
        pins_from: 'the run raysubmit_a of proj/main.py',
        lock: {
          sha256: 'f00d',
          requirements: ['numpy==1.26.4', 'tabulate==0.9.0']
        },
        parity: {
          status: 'failed',
          source: 'the run raysubmit_a',
          mismatches: [NUMPY_MISMATCH],
          notes: [],
          extras: 0
        },
        overrides: [
          {
            what: 'parity',
            parity_status: 'failed',
            mismatches: ['numpy 2.1.3 in the image, 1.26.4 in the run'],
            reason: null,
            user: 'alice',
            at: '2026-12-04T10:00:00+00:00'
          }
        ]
      },
      trans
    );
    expect(rows.map(r => r.label)).toEqual([
      'Source run',
      'Lock',
      'Parity',
      'Override'
    ]);
    expect(rows[0].value).toBe('raysubmit_a');
    expect(rows[1].value).toBe('sha256 f00d, 2 pinned lines');
    expect(rows[2].value).toBe(
      'failed against the run raysubmit_a; numpy 2.1.3 in the image, 1.26.4 in the run'
    );
    expect(rows[2].warn).toBe(true);
    expect(rows[3].value).toContain('Pushed anyway by alice');
    expect(provenanceRows(undefined, trans)).toEqual([]);
  });

  it('writes the source run’s time as the review does, in UTC', () => {
    const [run] = provenanceRows(
      {
        source_run: { id: 'raysubmit_a', time: 1796391600 },
        pins_from: null,
        lock: { sha256: null, requirements: null },
        parity: null,
        overrides: []
      },
      trans
    );
    expect(run.value).toBe('raysubmit_a (started 2026-12-04 13:40 UTC)');
  });

  it("says the pins came from the server's Python without a source run", () => {
    const rows = provenanceRows(
      {
        source_run: null,
        pins_from: null,
        lock: { sha256: null, requirements: null },
        parity: null,
        overrides: []
      },
      trans
    );
    expect(rows[0].value).toContain("this server's Python");
    expect(rows[2].value).toBe('Not checked');
  });

  it('names each package whose pin changed, and where each side pinned from', () => {
    const diff: IPromotionDiff = {
      from: 'a',
      to: 'b',
      same_inputs: false,
      artifacts: [],
      dockerfile: '',
      requirements: '',
      manifests: '',
      source_runs: { from: null, to: 'raysubmit_b' },
      lock_changes: [
        { name: 'numpy', from: 'numpy==1.26.4', to: 'numpy==2.1.3' },
        { name: 'tabulate', from: null, to: 'tabulate==0.9.0' },
        { name: 'six', from: 'six==1.16.0', to: null }
      ]
    };
    expect(lockChangeLines(diff, trans)).toEqual([
      'numpy: numpy==1.26.4 → numpy==2.1.3',
      'tabulate: added as tabulate==0.9.0',
      'six: six==1.16.0 removed'
    ]);
    expect(sourceRunLine(diff, trans)).toBe(
      "Pins from this server's Python, then from raysubmit_b"
    );
    expect(
      sourceRunLine({ ...diff, source_runs: { from: 'x', to: 'x' } }, trans)
    ).toBeNull();
  });
});
