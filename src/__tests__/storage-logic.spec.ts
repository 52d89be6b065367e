/**
 * Pure logic of the storage panel: paths and breadcrumbs, snippets, the
 * paged listing model, upload chunking and the upload queue (the API client
 * is stubbed: jest has no server; the Galata test drives the real one).
 */
import {
  ApiError,
  type IStorageListing,
  type IStorageRoot,
  type IStorageUpload
} from '../api';
import {
  errorHint,
  flattenRecord,
  formatModified,
  formatValue
} from '../storage/format';
import { ListingModel, PREFETCH_ROWS } from '../storage/model';
import {
  baseName,
  breadcrumbs,
  extension,
  invalidName,
  itemUri,
  joinPath,
  parentPath
} from '../storage/paths';
import { defaultSnippet, pyString, snippetsFor } from '../storage/snippets';
import {
  planChunks,
  UploadQueue,
  uploadFile,
  type UploadApi
} from '../storage/upload';
import { nullTranslator } from '@jupyterlab/translation';

const trans = nullTranslator.load('jupyter_ray_dev');

const local: IStorageRoot = {
  name: 'artifacts',
  url: '/mnt/shared/artifacts',
  protocol: 'file',
  read_only: false,
  option_names: []
};
const s3: IStorageRoot = {
  name: 'lake',
  url: 's3://bucket/prefix',
  protocol: 's3',
  read_only: true,
  option_names: ['endpoint_url']
};

describe('paths', () => {
  it('joins, splits and walks up', () => {
    expect(joinPath('a/b', 'c')).toBe('a/b/c');
    expect(joinPath('', 'c')).toBe('c');
    expect(joinPath('a/', '/b/', '')).toBe('a/b');
    expect(parentPath('a/b/c')).toBe('a/b');
    expect(parentPath('a')).toBe('');
    expect(parentPath('')).toBe('');
    expect(baseName('a/b/c.csv')).toBe('c.csv');
    expect(baseName('')).toBe('');
    expect(extension('x/Data.PARQUET')).toBe('parquet');
    expect(extension('.bashrc')).toBe('');
    expect(extension('README')).toBe('');
  });

  it('builds breadcrumbs from the root down', () => {
    expect(breadcrumbs('artifacts', '')).toEqual([
      { label: 'artifacts', path: '' }
    ]);
    expect(breadcrumbs('artifacts', 'exp/trial_1')).toEqual([
      { label: 'artifacts', path: '' },
      { label: 'exp', path: 'exp' },
      { label: 'trial_1', path: 'exp/trial_1' }
    ]);
  });

  it('collapses the middle of deep paths', () => {
    const crumbs = breadcrumbs('r', 'a/b/c/d/e/f', 5);
    expect(crumbs.map(c => c.label)).toEqual(['r', '…', 'd', 'e', 'f']);
    // the ellipsis opens the deepest hidden folder
    expect(crumbs[1].path).toBe('a/b/c');
    expect(crumbs[4].path).toBe('a/b/c/d/e/f');
  });

  it('builds URIs like the server', () => {
    expect(itemUri(local, '')).toBe('/mnt/shared/artifacts');
    expect(itemUri(local, 'a/b.csv')).toBe('/mnt/shared/artifacts/a/b.csv');
    expect(itemUri(s3, 'x/y.parquet')).toBe('s3://bucket/prefix/x/y.parquet');
    expect(itemUri({ ...local, url: '/' }, 'a')).toBe('/a');
    expect(itemUri({ ...s3, url: 'gs://b', protocol: 'gs' }, 'k')).toBe(
      'gs://b/k'
    );
  });

  it('refuses names that are not one plain segment', () => {
    expect(invalidName('ok name.txt', trans)).toBeNull();
    for (const bad of [
      '',
      '  ',
      '.',
      '..',
      'a/b',
      'a\\b',
      'a\u0000b',
      'a\nb'
    ]) {
      expect(invalidName(bad, trans)).not.toBeNull();
    }
  });
});

describe('snippets', () => {
  const file = (name: string) => ({
    name,
    path: `d/${name}`,
    kind: 'file' as const
  });

  it('reads Parquet with Ray Data, pyarrow and open()', () => {
    const snippets = snippetsFor(s3, file('part-0.parquet'), trans);
    expect(snippets.map(s => s.id)).toEqual(['ray-data', 'pyarrow', 'open']);
    expect(snippets[0].code).toContain(
      'ray.data.read_parquet("s3://bucket/prefix/d/part-0.parquet")'
    );
    expect(snippets[1].code).toContain(
      'pyarrow.fs.FileSystem.from_uri("s3://bucket/prefix/d/part-0.parquet")'
    );
    expect(snippets[1].code).toContain('pq.read_table(path, filesystem=fs)');
    expect(snippets[2].code).toContain(
      'fsspec.open("s3://bucket/prefix/d/part-0.parquet", "rb")'
    );
    // option values never reach the browser: a comment names them
    expect(snippets[0].code).toContain('endpoint_url');
  });

  it('picks the reader by extension and open() for local files', () => {
    expect(defaultSnippet(local, file('a.csv'), trans).code).toContain(
      'ray.data.read_csv("/mnt/shared/artifacts/d/a.csv")'
    );
    expect(defaultSnippet(local, file('a.jsonl'), trans).code).toContain(
      'ray.data.read_json('
    );
    expect(defaultSnippet(local, file('cat.PNG'), trans).code).toContain(
      'ray.data.read_images('
    );
    expect(defaultSnippet(local, file('blob.bin'), trans).code).toContain(
      'read_binary_files('
    );
    expect(defaultSnippet(local, file('t.tsv'), trans).code).toContain(
      'delimiter="\\t"'
    );
    const open = snippetsFor(local, file('log.txt'), trans)[2].code;
    expect(open).toContain(
      'with open("/mnt/shared/artifacts/d/log.txt", "r") as f:'
    );
    expect(open).not.toContain('fsspec');
    expect(snippetsFor(local, file('cfg.json'), trans)[2].code).toContain(
      'json.load(f)'
    );
  });

  it('uses ray.train.Checkpoint for checkpoint folders', () => {
    const cp = defaultSnippet(
      s3,
      {
        name: 'checkpoint_000003',
        path: 'run/checkpoint_000003',
        kind: 'directory',
        ray_hint: 'checkpoint'
      },
      trans
    );
    expect(cp.id).toBe('checkpoint');
    expect(cp.code).toContain(
      'ray.train.Checkpoint("s3://bucket/prefix/run/checkpoint_000003")'
    );
    expect(cp.code).toContain('checkpoint.as_directory()');
  });

  it('knows Tune experiments, trials and Train runs', () => {
    const exp = snippetsFor(
      local,
      {
        name: 'exp',
        path: 'exp',
        kind: 'directory',
        ray: { kind: 'tune_experiment' }
      },
      trans
    );
    expect(exp[0].code).toContain(
      'tune.ExperimentAnalysis("/mnt/shared/artifacts/exp")'
    );
    const trial = snippetsFor(
      local,
      {
        name: 't',
        path: 'exp/t',
        kind: 'directory',
        ray: {
          kind: 'tune_trial',
          checkpoints: [
            {
              name: 'checkpoint_2',
              path: 'exp/t/checkpoint_2',
              uri: '/x/checkpoint_2',
              modified: 2,
              latest: true
            }
          ]
        }
      },
      trans
    );
    expect(trial[0].code).toContain(
      'Result.from_path("/mnt/shared/artifacts/exp/t")'
    );
    expect(trial[1].code).toContain('ray.train.Checkpoint("/x/checkpoint_2")');
    const plain = defaultSnippet(
      local,
      {
        name: 'ds',
        path: 'ds',
        kind: 'directory'
      },
      trans
    );
    expect(plain.code).toContain(
      'ray.data.read_parquet("/mnt/shared/artifacts/ds")'
    );
  });

  it('quotes any path as a valid Python literal', () => {
    expect(pyString('a "b" \\ c\n')).toBe('"a \\"b\\" \\\\ c\\n"');
    const code = defaultSnippet(local, file('we"ird.csv'), trans).code;
    expect(code).toContain('"/mnt/shared/artifacts/d/we\\"ird.csv"');
  });
});

function page(
  names: string[],
  next: string | null,
  ray: IStorageListing['ray'] = null
): IStorageListing {
  return {
    root: 'r',
    path: '',
    entries: names.map(name => ({
      name,
      path: name,
      kind: 'file',
      size: 1,
      modified: 0
    })),
    next_cursor: next,
    ray
  };
}

describe('ListingModel', () => {
  it('loads pages as the list scrolls, once each', async () => {
    const calls: (string | null)[] = [];
    const limits: number[] = [];
    const model = new ListingModel({
      pageSize: 500,
      nextPageSize: 500,
      fetchPage: async (_root, _path, cursor, limit) => {
        calls.push(cursor);
        limits.push(limit);
        const n = cursor === null ? 0 : Number(cursor);
        const names = Array.from({ length: 500 }, (_, i) => `f${n + i}`);
        return page(
          names,
          n + 500 < 1500 ? String(n + 500) : null,
          cursor === null ? { kind: 'tune_trial' } : undefined
        );
      }
    });
    await model.open('r', '');
    expect(model.state.entries).toHaveLength(500);
    expect(model.state.ray).toEqual({ kind: 'tune_trial' });
    // far from the end: nothing more
    model.ensureLoaded(10);
    expect(calls).toEqual([null]);
    // near the end: the next page, only once while in flight
    model.ensureLoaded(500 - PREFETCH_ROWS);
    model.ensureLoaded(499);
    await new Promise(r => setTimeout(r, 0));
    expect(calls).toEqual([null, '500']);
    expect(model.state.entries).toHaveLength(1000);
    await model.loadMore();
    expect(model.state.entries).toHaveLength(1500);
    expect(model.hasMore).toBe(false);
    model.ensureLoaded(1499);
    expect(calls).toEqual([null, '500', '1000']);
    expect(limits).toEqual([500, 500, 500]);
    // the folder's Ray kind comes from the first page and stays
    expect(model.state.ray).toEqual({ kind: 'tune_trial' });
  });

  it('drops answers for a folder the user has left', async () => {
    let release: (p: IStorageListing) => void = () => undefined;
    const model = new ListingModel({
      fetchPage: (_root, path) =>
        path === 'slow'
          ? new Promise(resolve => (release = resolve))
          : Promise.resolve(page(['fast'], null))
    });
    const slow = model.open('r', 'slow');
    await model.open('r', 'quick');
    release(page(['stale'], null));
    await slow;
    expect(model.state.path).toBe('quick');
    expect(model.state.entries.map(e => e.name)).toEqual(['fast']);
  });

  it('keeps the error and retries the failed page', async () => {
    let fail = true;
    const model = new ListingModel({
      fetchPage: async () => {
        if (fail) {
          throw new ApiError({
            status: 503,
            reason: 'storage_unreachable',
            message: 'S3 at http://x is down'
          });
        }
        return page(['a', 'b'], null);
      }
    });
    await model.open('r', '');
    expect(model.state.error?.status).toBe(503);
    expect(model.state.loaded).toBe(false);
    fail = false;
    await model.retry();
    expect(model.state.error).toBeNull();
    expect(model.state.entries).toHaveLength(2);
  });

  it('moves and keeps the selection', async () => {
    const model = new ListingModel({
      fetchPage: async () => page(['a', 'b', 'c'], null)
    });
    await model.open('r', '');
    expect(model.selectedEntry).toBeNull();
    model.move(1);
    expect(model.selectedEntry?.name).toBe('a');
    model.move(5);
    expect(model.selectedEntry?.name).toBe('c');
    model.move(-1);
    expect(model.selectedEntry?.name).toBe('b');
    await model.refresh();
    expect(model.selectedEntry?.name).toBe('b');
    expect(model.selectByName('zzz')).toBe(false);
    model.select(-1);
    expect(model.selectedEntry).toBeNull();
  });
});

/** jsdom's Blob has no `text()`. */
function blobText(blob: Blob): Promise<string> {
  return new Promise(resolve => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    try {
      reader.readAsText(blob);
    } catch {
      // jsdom: a slice of a File is not one of its Blobs; the size is checked
      resolve(`<${blob.size} bytes>`);
    }
  });
}

describe('uploads', () => {
  it('plans chunks of the suggested size, capped at the maximum', () => {
    expect(planChunks(0, 8)).toEqual([{ start: 0, end: 0 }]);
    expect(planChunks(20, 8)).toEqual([
      { start: 0, end: 8 },
      { start: 8, end: 16 },
      { start: 16, end: 20 }
    ]);
    expect(planChunks(10, 100, 4).map(c => c.end)).toEqual([4, 8, 10]);
    expect(planChunks(8, 8)).toEqual([{ start: 0, end: 8 }]);
  });

  function stubApi(options: { failAt?: number; conflict?: boolean } = {}) {
    const log: string[] = [];
    const received: string[] = [];
    let conflict = options.conflict ?? false;
    const session = (size: number | null): IStorageUpload => ({
      upload_id: 'u1',
      root: 'r',
      path: 'd/f.txt',
      received: 0,
      size,
      chunk_size: 4,
      max_chunk_size: 64
    });
    const api: UploadApi = {
      startStorageUpload: async (_root, path, opts) => {
        log.push(`start ${path} ${opts?.size} ${opts?.overwrite}`);
        if (conflict && !opts?.overwrite) {
          conflict = false;
          throw new ApiError({
            status: 409,
            reason: 'exists',
            message: 'exists'
          });
        }
        return session(opts?.size ?? null);
      },
      sendStorageChunk: async (_root, _id, chunk, start, total) => {
        log.push(`put ${start}+${chunk.size}/${total}`);
        if (options.failAt === start) {
          throw new ApiError({
            status: 503,
            reason: 'storage_unreachable',
            message: 'down'
          });
        }
        received.push(await blobText(chunk));
        return session(total);
      },
      commitStorageUpload: async () => {
        log.push('commit');
        return {
          name: 'f.txt',
          path: 'd/f.txt',
          kind: 'file',
          size: 10,
          modified: 0,
          root: 'r',
          uri: '/x'
        };
      },
      abortStorageUpload: async () => {
        log.push('abort');
      }
    };
    return { api, log, received };
  }

  it('sends every chunk in order with its range, then commits', async () => {
    const { api, log, received } = stubApi();
    const progress: number[] = [];
    const item = await uploadFile(api, {
      root: 'r',
      path: 'd/f.txt',
      file: new Blob(['0123456789']),
      onProgress: loaded => progress.push(loaded)
    });
    expect(item.path).toBe('d/f.txt');
    expect(log).toEqual([
      'start d/f.txt 10 false',
      'put 0+4/10',
      'put 4+4/10',
      'put 8+2/10',
      'commit'
    ]);
    expect(received.join('')).toBe('0123456789');
    expect(progress).toEqual([4, 8, 10]);
  });

  it('aborts the session when a chunk fails', async () => {
    const { api, log } = stubApi({ failAt: 4 });
    await expect(
      uploadFile(api, {
        root: 'r',
        path: 'd/f.txt',
        file: new Blob(['0123456789'])
      })
    ).rejects.toThrow('down');
    expect(log).toEqual([
      'start d/f.txt 10 false',
      'put 0+4/10',
      'put 4+4/10',
      'abort'
    ]);
  });

  it('tracks progress in the queue and asks before replacing', async () => {
    const { api, log } = stubApi({ conflict: true });
    const queue = new UploadQueue(api);
    const asked: string[] = [];
    const file = new File(['0123456789'], 'f.txt');
    const result = await queue.add('r', 'd', file, async name => {
      asked.push(name);
      return true;
    });
    expect(queue.items[0].error?.message).toBeUndefined();
    expect(result?.path).toBe('d/f.txt');
    expect(asked).toEqual(['f.txt']);
    expect(log[0]).toBe('start d/f.txt 10 false');
    expect(log[1]).toBe('start d/f.txt 10 true');
    expect(queue.items[0]).toMatchObject({
      status: 'done',
      loaded: 10,
      total: 10
    });
    queue.clearFinished();
    expect(queue.items).toHaveLength(0);
  });

  it('reports a failed upload without throwing', async () => {
    const { api } = stubApi({ failAt: 0 });
    const queue = new UploadQueue(api);
    const result = await queue.add('r', '', new File(['abcdef'], 'x.bin'));
    expect(result).toBeNull();
    expect(queue.items[0].status).toBe('error');
    expect(queue.items[0].error?.message).toBe('down');
  });
});

describe('format', () => {
  it('formats values, records, dates and hints', () => {
    expect(formatValue(0.123456789)).toBe('0.1235');
    expect(formatValue(3)).toBe('3');
    expect(formatValue(null)).toBe('—');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(flattenRecord({ lr: 0.1, model: { layers: 2 } })).toEqual([
      ['lr', 0.1],
      ['model/layers', 2]
    ]);
    const now = new Date(2026, 10, 21, 15, 30);
    expect(formatModified(new Date(2026, 10, 21, 9, 5).getTime(), now)).toBe(
      '09:05'
    );
    expect(formatModified(new Date(2025, 0, 2).getTime(), now)).toBe(
      '2025-01-02'
    );
    expect(formatModified(null)).toBe('');
    expect(
      errorHint(new ApiError({ status: 503, reason: 'x', message: 'm' }), trans)
    ).toMatch(/cannot be reached/);
    expect(
      errorHint(new ApiError({ status: 403, reason: 'x', message: 'm' }), trans)
    ).toMatch(/read-only/);
    expect(
      errorHint(new ApiError({ status: 404, reason: 'x', message: 'm' }), trans)
    ).toBeNull();
  });
});
