/**
 * The Storage panel's model without any widget or DOM: roots, folders,
 * preview, actions and their errors, against a stubbed API client.
 */
import {
  ApiError,
  errorMessage,
  type IStorageEntry,
  NETWORK_ERROR,
  type RayDevAPI,
  toApiError
} from '../api';
import { STORAGE_ROOTS } from './fixtures';
import { PREVIEW_DELAY, StorageModel } from '../storage/model';

function file(path: string): IStorageEntry {
  return {
    name: path.split('/').pop()!,
    path,
    kind: 'file',
    size: 1,
    modified: 0
  };
}

function fakeApi(overrides: Partial<Record<keyof RayDevAPI, unknown>> = {}) {
  const calls: string[] = [];
  const tree: Record<string, IStorageEntry[]> = {
    '': [file('a.csv'), file('b.txt')]
  };
  const api = {
    listStorageRoots: async () => STORAGE_ROOTS,
    listStorage: async (root: string, path: string) => {
      calls.push(`list ${root}:${path}`);
      return {
        root,
        path,
        entries: [...(tree[path] ?? [])],
        next_cursor: null
      };
    },
    previewStorage: async (root: string, path: string) => {
      calls.push(`preview ${root}:${path}`);
      return { root, path, type: 'text', text: 'x' };
    },
    makeStorageFolder: async (root: string, path: string) => {
      calls.push(`mkdir ${root}:${path}`);
      tree[''].push({ ...file(path), kind: 'directory', size: null });
      return {};
    },
    deleteStorage: async (root: string, path: string) => {
      calls.push(`delete ${root}:${path}`);
      return { root, path, deleted: true };
    },
    storageDownloadUrl: (root: string, path: string) => `/dl/${root}/${path}`,
    ...overrides
  } as unknown as RayDevAPI;
  return { api, calls };
}

function changes(model: StorageModel): () => number {
  let count = 0;
  model.changed.connect(() => count++);
  return () => count;
}

describe('StorageModel', () => {
  let model: StorageModel | undefined;
  afterEach(() => {
    model?.dispose();
    model = undefined;
  });

  it('opens the first root and lists it, every change bumping the version', async () => {
    const { api, calls } = fakeApi();
    model = new StorageModel({ api });
    const count = changes(model);
    await model.loadRoots();
    expect(model.roots).toEqual(STORAGE_ROOTS);
    expect(model.root?.name).toBe('artifacts');
    expect(model.readOnly).toBe(false);
    expect(model.state.listing.entries.map(e => e.name)).toEqual([
      'a.csv',
      'b.txt'
    ]);
    expect(calls).toEqual(['list artifacts:']);
    expect(count()).toBeGreaterThan(0);
    expect(model.version).toBe(count());
  });

  it('previews a selected file after a pause, and opens one at once', async () => {
    const { api, calls } = fakeApi();
    model = new StorageModel({ api });
    await model.loadRoots();
    model.listing.select(0);
    expect(calls).not.toContain('preview artifacts:a.csv');
    await new Promise(resolve => setTimeout(resolve, PREVIEW_DELAY + 50));
    expect(calls).toContain('preview artifacts:a.csv');
    expect(model.state.preview.target?.path).toBe('a.csv');

    model.openEntry(file('b.txt'));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(model.state.preview.target?.path).toBe('b.txt');
    model.closePreview();
    expect(model.state.preview.target).toBeNull();
  });

  it('keeps a failure to list the roots as an ApiError', async () => {
    const { api } = fakeApi({
      listStorageRoots: async () => {
        throw new TypeError('boom');
      }
    });
    model = new StorageModel({ api });
    await model.loadRoots();
    expect(model.roots).toBeNull();
    expect(model.state.rootsError).toBeInstanceOf(ApiError);
    expect(model.state.rootsError).toMatchObject({
      status: 0,
      reason: 'error',
      message: 'boom'
    });
  });

  it('refuses a bad folder name without asking the server', async () => {
    const { api, calls } = fakeApi();
    model = new StorageModel({ api });
    await model.loadRoots();
    await model.makeFolder('a/b');
    expect(calls).toEqual(['list artifacts:']);
    expect(model.state.actionError).toMatchObject({
      status: 400,
      message: 'A name cannot contain "/" or "\\".'
    });
    model.dismissError();
    expect(model.state.actionError).toBeNull();

    await model.makeFolder('new');
    expect(calls).toContain('mkdir artifacts:new');
    expect(model.listing.selectedEntry?.name).toBe('new');
  });

  it('changes nothing on a read-only root', async () => {
    const { api, calls } = fakeApi();
    model = new StorageModel({ api });
    await model.loadRoots();
    await model.openRoot('lake');
    expect(model.readOnly).toBe(true);
    await model.remove(file('a.csv'));
    await model.makeFolder('x');
    expect(calls.filter(c => !c.startsWith('list'))).toEqual([]);
    expect(model.downloadUrl(file('a.csv'))).toBe('/dl/lake/a.csv');
    expect(model.uri(file('a.csv'))).toBe('s3://bucket/x/a.csv');
  });

  it('shows a failed action as its ApiError', async () => {
    const refusal = new ApiError({
      status: 403,
      reason: 'forbidden',
      message: 'Not allowed.'
    });
    const { api } = fakeApi({
      deleteStorage: async () => {
        throw refusal;
      }
    });
    model = new StorageModel({ api });
    await model.loadRoots();
    await model.remove(file('a.csv'));
    expect(model.state.actionError).toBe(refusal);
  });
});

describe('toApiError', () => {
  it('keeps an ApiError as it is', () => {
    const error = new ApiError({
      status: 404,
      reason: 'not_found',
      message: 'x'
    });
    expect(toApiError(error)).toBe(error);
    expect(toApiError(error, NETWORK_ERROR)).toBe(error);
  });

  it('wraps anything else with its message', () => {
    expect(toApiError(new Error('bad'))).toMatchObject({
      status: 0,
      reason: 'error',
      message: 'bad'
    });
    expect(errorMessage('plain text')).toBe('plain text');
    expect(
      toApiError(new TypeError('Failed to fetch'), NETWORK_ERROR)
    ).toMatchObject({
      status: 0,
      reason: NETWORK_ERROR,
      message: 'Cannot reach the Jupyter server: Failed to fetch'
    });
  });
});
