/**
 * The Storage panel rendered in jsdom with the API client stubbed (jest has
 * no Jupyter server; ui-tests/tests/storage.spec.ts drives the real one).
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  ApiError,
  type IRayFolder,
  type IStorageEntry,
  type IStorageListing,
  type IStoragePreview,
  type RayDevAPI
} from '../api';
import { STORAGE_ROOTS } from './fixtures';
import { StoragePanel } from '../storage/panel';
import { STORAGE_UNREACHABLE_BODY } from './fixtures';
import { waitFor } from './wait';

function entry(
  path: string,
  kind: IStorageEntry['kind'] = 'file'
): IStorageEntry {
  const name = path.split('/').pop()!;
  return {
    name,
    path,
    kind,
    size: kind === 'file' ? 2048 : null,
    modified: 0,
    // the server adds the hint from the name alone
    ...(kind === 'directory' && name.startsWith('checkpoint_')
      ? { ray_hint: 'checkpoint' as const }
      : {})
  };
}

/** A fake storage: folder path -> entries, served in pages of `limit`. */
function fakeApi(
  tree: Record<string, IStorageEntry[]>,
  extra: Partial<Record<keyof RayDevAPI, unknown>> = {},
  ray: Record<string, IRayFolder> = {}
) {
  const calls: string[] = [];
  const api = {
    listStorageRoots: async () => STORAGE_ROOTS,
    listStorage: async (
      root: string,
      path: string,
      options: { cursor?: string | null; limit?: number }
    ): Promise<IStorageListing> => {
      calls.push(`list ${root}:${path}@${options.cursor ?? 0}`);
      const all = tree[path] ?? [];
      const start = Number(options.cursor ?? 0);
      const end = start + (options.limit ?? 500);
      return {
        root,
        path,
        entries: all.slice(start, end),
        next_cursor: end < all.length ? String(end) : null,
        ...(start === 0 ? { ray: ray[path] ?? null } : {})
      };
    },
    statStorage: async (root: string, path: string) => ({
      ...entry(path, 'directory'),
      root,
      uri: `/data/artifacts/${path}`,
      ray: ray[path] ?? null
    }),
    previewStorage: async (
      root: string,
      path: string
    ): Promise<IStoragePreview> => ({
      root,
      path,
      name: path.split('/').pop()!,
      size: 30,
      mime: 'text/csv',
      uri: `/data/artifacts/${path}`,
      max_bytes: 65536,
      truncated: false,
      type: 'csv',
      columns: [
        { name: 'epoch', type: 'int64' },
        { name: 'loss', type: 'double' }
      ],
      rows: [
        [1, 0.5],
        [2, 0.25]
      ],
      num_rows: 2
    }),
    storageDownloadUrl: (root: string, path: string) => `/dl/${root}/${path}`,
    ...extra
  };
  return { api: api as unknown as RayDevAPI, calls };
}

function q(panel: Widget, selector: string): HTMLElement | null {
  return panel.node.querySelector(selector);
}

function rows(panel: Widget): HTMLElement[] {
  return Array.from(
    panel.node.querySelectorAll('[data-testid="storage-entry"]')
  );
}

describe('StoragePanel', () => {
  let panel: StoragePanel | undefined;

  afterEach(() => {
    panel?.dispose();
    panel = undefined;
  });

  function open(api: RayDevAPI, pageSize?: number): StoragePanel {
    panel = new StoragePanel({ api, translator: nullTranslator, pageSize });
    panel.node.style.height = '600px';
    // attached and visible: the panel loads its roots by itself
    Widget.attach(panel, document.body);
    return panel;
  }

  /** Wait for the roots and the first page of the folder on screen. */
  async function ready(p: StoragePanel): Promise<void> {
    await waitFor(() => p.model.roots !== null && p.model.listing.state.loaded);
  }

  it('lists the first root, browses with the keyboard and previews a CSV', async () => {
    const { api } = fakeApi({
      '': [entry('runs', 'directory'), entry('notes.txt')],
      runs: [entry('runs/metrics.csv')]
    });
    const p = open(api);
    await ready(p);
    await waitFor(() => rows(p).length === 2);
    const select = q(p, '[data-testid="storage-root"]') as HTMLSelectElement;
    expect(select.value).toBe('artifacts');
    expect(rows(p).map(r => r.dataset.name)).toEqual(['runs', 'notes.txt']);

    const list = q(p, '[data-testid="storage-list"]')!;
    const key = (k: string) =>
      list.dispatchEvent(
        new KeyboardEvent('keydown', { key: k, bubbles: true })
      );
    key('ArrowDown');
    await waitFor(() => rows(p)[0].classList.contains('jp-mod-selected'));
    key('Enter');
    await waitFor(() => rows(p)[0]?.dataset.name === 'metrics.csv');
    expect(q(p, '[data-testid="storage-breadcrumb"]')!.textContent).toContain(
      'runs'
    );

    rows(p)[0].click();
    await waitFor(() => q(p, '[data-testid="storage-preview-table"]') !== null);
    const table = q(p, '[data-testid="storage-preview-table"]')!;
    expect(
      Array.from(table.querySelectorAll('th')).map(th => th.textContent)
    ).toEqual(['epoch', 'loss']);
    expect(q(p, '[data-testid="storage-snippet-code"]')!.textContent).toContain(
      'ray.data.read_csv("/data/artifacts/runs/metrics.csv")'
    );

    key('Backspace');
    await waitFor(() => rows(p)[0]?.dataset.name === 'runs');
    // coming back up selects the folder we came from
    expect(rows(p)[0].classList.contains('jp-mod-selected')).toBe(true);
  });

  it('renders only the rows on screen and pages in the rest', async () => {
    const many = Array.from({ length: 1200 }, (_, i) =>
      entry(`f${String(i).padStart(5, '0')}.bin`)
    );
    const { api, calls } = fakeApi({ '': many });
    const p = open(api, 500);
    await ready(p);
    await waitFor(() => rows(p).length > 0);
    expect(p.model.listing.state.entries).toHaveLength(500);
    expect(rows(p).length).toBeLessThan(60);
    // later pages are bigger (2000): the rest comes in one request
    await p.model.listing.loadMore();
    expect(p.model.listing.state.entries).toHaveLength(1200);
    expect(p.model.listing.hasMore).toBe(false);
    expect(calls).toEqual(['list artifacts:@0', 'list artifacts:@500']);
    expect(rows(p).length).toBeLessThan(60);
  });

  it('disables changes on a read-only root', async () => {
    const { api } = fakeApi({ '': [entry('a.parquet')] });
    const p = open(api);
    await ready(p);
    await waitFor(() => rows(p).length === 1);
    // toolbar buttons are <jp-button> web components
    const disabled = (id: string) =>
      q(p, `[data-testid="${id}"]`)?.getAttribute('aria-disabled');
    expect(disabled('storage-new-folder')).toBe('false');
    await p.model.openRoot('lake');
    await waitFor(() => disabled('storage-new-folder') === 'true');
    expect(p.readOnly).toBe(true);
    expect(disabled('storage-new-folder')).toBe('true');
    expect(disabled('storage-upload')).toBe('true');
  });

  it('shows the server message and a hint on 503, then retries', async () => {
    let down = true;
    const { api } = fakeApi(
      { '': [entry('x.json')] },
      {
        listStorageRoots: async () => {
          if (down) {
            throw new ApiError({ status: 503, ...STORAGE_UNREACHABLE_BODY });
          }
          return STORAGE_ROOTS;
        }
      }
    );
    const p = open(api);
    await waitFor(() => q(p, '[data-testid="storage-error"]') !== null);
    const error = q(p, '[data-testid="storage-error"]')!;
    expect(error.textContent).toContain(STORAGE_UNREACHABLE_BODY.message);
    expect(error.textContent).toContain('cannot be reached');
    down = false;
    (error.querySelector('button') as HTMLButtonElement).click();
    await waitFor(() => rows(p).length === 1);
  });

  it('marks Ray Train/Tune folders and shows trial params and metrics', async () => {
    const { api } = fakeApi(
      {
        '': [entry('exp', 'directory')],
        exp: [
          entry('exp/trial_a', 'directory'),
          entry('exp/checkpoint_000001', 'directory')
        ]
      },
      {},
      {
        exp: { kind: 'tune_experiment' },
        'exp/trial_a': {
          kind: 'tune_trial',
          params: { lr: 0.01, model: { layers: 3 } },
          last_metrics: { loss: 0.123456, training_iteration: 10 },
          checkpoints: []
        }
      }
    );
    const p = open(api);
    await ready(p);
    await waitFor(() => rows(p).length === 1);
    await p.model.navigate('exp');
    await waitFor(() => rows(p).length === 2);
    expect(q(p, '[data-testid="storage-folder-kind"]')!.textContent).toBe(
      'experiment'
    );
    // a checkpoint_* folder is badged from its name alone
    const badges = () =>
      Array.from(
        p.node.querySelectorAll('[data-testid="storage-entry-badge"]')
      ).map(b => b.textContent);
    expect(badges()).toEqual(['checkpoint']);
    // selecting a trial asks for its summary once and badges it
    rows(p)[0].click();
    await waitFor(() => q(p, '[data-testid="storage-ray-params"]') !== null);
    expect(q(p, '[data-testid="storage-ray-params"]')!.textContent).toContain(
      'model/layers'
    );
    expect(q(p, '[data-testid="storage-ray-metrics"]')!.textContent).toContain(
      '0.1235'
    );
    await waitFor(() => badges().length === 2);
    expect(badges()).toEqual(['trial', 'checkpoint']);
    expect(q(p, '[data-testid="storage-snippet-code"]')!.textContent).toContain(
      'Result.from_path('
    );
  });

  it('finds the entry of a context-menu target', async () => {
    const { api } = fakeApi({ '': [entry('a.csv'), entry('b.csv')] });
    const p = open(api);
    await ready(p);
    await waitFor(() => rows(p).length === 2);
    const name = rows(p)[1].querySelector(
      '.jp-RayDev-entryName'
    ) as HTMLElement;
    expect(p.entryFor(name)?.name).toBe('b.csv');
    expect(p.entryFor(null)).toBeNull();
    p.model.listing.select(0);
    expect(p.entryFor(null)?.name).toBe('a.csv');
    expect(p.model.uri(p.entryFor(null)!)).toBe('/data/artifacts/a.csv');
  });
});
