/**
 * After the Jupyter server restarts (or a storage endpoint answers 503 for a
 * while), the Storage panel lists its folder again by itself; an install whose
 * stream breaks off says it was interrupted and what to do. The log tabs'
 * reconnect is covered in jobs-stream.spec.ts; the server side of a restart in
 * tests/test_faults_restart.py (a real server killed and started again).
 *
 * Stubbed API clients: these run without a server, so the server's going away
 * is a rejected call, as fetch rejects when nothing listens.
 */
import { nullTranslator } from '@jupyterlab/translation';

import { ApiError, type IInstallEvent, type RayDevAPI } from '../api';
import { RuntimeEnvModel } from '../runtimeenv/model';
import { RECONNECT_DELAYS } from '../polling';
import { StorageModel } from '../storage/model';
import { uploadFile } from '../storage/upload';
import { STORAGE_ROOTS } from './fixtures';

const serverGone = () =>
  ApiError.fromNetworkError(new TypeError('Failed to fetch'));

function storageApi(failures: {
  roots: number;
  list: number;
  status?: number;
}) {
  const calls: string[] = [];
  const api = {
    listStorageRoots: async () => {
      calls.push('roots');
      if (failures.roots-- > 0) {
        throw serverGone();
      }
      return STORAGE_ROOTS;
    },
    listStorage: async (root: string, path: string) => {
      calls.push(`list ${root}:${path}`);
      if (failures.list-- > 0) {
        throw failures.status
          ? new ApiError({
              status: failures.status,
              reason: 'x',
              message: 'no'
            })
          : serverGone();
      }
      return {
        root,
        path,
        entries: [
          { name: 'a.csv', path: 'a.csv', kind: 'file', size: 1, modified: 0 }
        ],
        next_cursor: null
      };
    }
  } as unknown as RayDevAPI;
  return { api, calls };
}

describe('the Storage panel after a server restart', () => {
  let model: StorageModel | undefined;
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    model?.dispose();
    model = undefined;
    jest.useRealTimers();
  });

  it('lists the folder again by itself once the server answers', async () => {
    const { api, calls } = storageApi({ roots: 0, list: 2 });
    model = new StorageModel({ api });
    await model.loadRoots();
    expect(model.state.listing.error?.status).toBe(0);
    await jest.advanceTimersByTimeAsync(RECONNECT_DELAYS[0]);
    expect(model.state.listing.error?.status).toBe(0); // still down
    await jest.advanceTimersByTimeAsync(RECONNECT_DELAYS[1]);
    expect(model.state.listing.error).toBeNull();
    expect(model.state.listing.entries.map(e => e.name)).toEqual(['a.csv']);
    expect(calls.filter(c => c.startsWith('list'))).toHaveLength(3);
    // up again: no more tries
    await jest.advanceTimersByTimeAsync(60000);
    expect(calls.filter(c => c.startsWith('list'))).toHaveLength(3);
  });

  it('loads the roots by itself when the server was down at first', async () => {
    const { api } = storageApi({ roots: 1, list: 0 });
    model = new StorageModel({ api });
    await model.loadRoots();
    expect(model.state.rootsError?.status).toBe(0);
    await jest.advanceTimersByTimeAsync(RECONNECT_DELAYS[0]);
    expect(model.state.rootsError).toBeNull();
    expect(model.root?.name).toBe('artifacts');
    expect(model.state.listing.entries).toHaveLength(1);
  });

  it('retries a 503 (storage unreachable) but not a 404', async () => {
    const unavailable = storageApi({ roots: 0, list: 1, status: 503 });
    model = new StorageModel({ api: unavailable.api });
    await model.loadRoots();
    await jest.advanceTimersByTimeAsync(RECONNECT_DELAYS[0]);
    expect(model.state.listing.error).toBeNull();
    model.dispose();

    const missing = storageApi({ roots: 0, list: 5, status: 404 });
    model = new StorageModel({ api: missing.api });
    await model.loadRoots();
    await jest.advanceTimersByTimeAsync(60000);
    expect(model.state.listing.error?.status).toBe(404);
    expect(missing.calls.filter(c => c.startsWith('list'))).toHaveLength(1);
  });

  it('stops trying once the panel is closed', async () => {
    const { api, calls } = storageApi({ roots: 0, list: 100 });
    model = new StorageModel({ api });
    await model.loadRoots();
    model.dispose();
    await jest.advanceTimersByTimeAsync(120000);
    expect(calls.filter(c => c.startsWith('list'))).toHaveLength(1);
  });
});

describe('an install whose stream breaks off', () => {
  function envModel(install: RayDevAPI['installRuntimeEnv']) {
    const api = { installRuntimeEnv: install } as unknown as RayDevAPI;
    return new RuntimeEnvModel({
      api,
      project: 'proj',
      trans: nullTranslator.load('jupyter_ray_dev'),
      validateDelay: 100000
    });
  }

  it('says interrupted when the server went away mid-install', async () => {
    const m = envModel(async (_project, _request, onEvent) => {
      onEvent({ type: 'line', text: 'Collecting slowpkg' } as IInstallEvent);
      throw new TypeError('network error'); // the body's reader, when the server dies
    });
    const result = await m.installShared();
    expect(m.install.running).toBe(false);
    expect(result?.type).toBe('error');
    expect(result?.message).toMatch(/interrupted.*install again/);
    m.dispose();
  });

  it('says interrupted when the stream ended without its last event', async () => {
    const m = envModel(async (_project, _request, onEvent) => {
      const last = { type: 'progress', phase: 'downloading' } as IInstallEvent;
      onEvent(last);
      return last; // the connection closed cleanly, pip had not finished
    });
    const result = await m.installShared();
    expect(m.install.running).toBe(false);
    expect(result?.message).toMatch(
      /server stopped or restarted.*install again/
    );
    m.dispose();
  });
});

describe('an upload when the server restarts under it', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('starts again once the server answers, and the file is whole', async () => {
    const calls: string[] = [];
    let sessions = 0;
    let serverUp = true;
    const api = {
      startStorageUpload: async () => {
        if (!serverUp) {
          throw serverGone();
        }
        sessions++;
        calls.push(`start ${sessions}`);
        return { upload_id: `u${sessions}`, chunk_size: 4, max_chunk_size: 4 };
      },
      sendStorageChunk: async (
        _root: string,
        id: string,
        _blob: Blob,
        start: number
      ) => {
        if (id === 'u1' && start === 4) {
          serverUp = false; // killed while this chunk was on its way
          setTimeout(() => (serverUp = true), 1500);
          throw serverGone();
        }
        calls.push(`chunk ${id}@${start}`);
        return {};
      },
      commitStorageUpload: async (_root: string, id: string) => {
        calls.push(`commit ${id}`);
        return { path: 'f.bin' };
      },
      abortStorageUpload: async (_root: string, id: string) => {
        if (!serverUp) {
          throw serverGone();
        }
        calls.push(`abort ${id}`);
      }
    } as unknown as RayDevAPI;
    const done = uploadFile(api, {
      root: 't',
      path: 'f.bin',
      file: new Blob(['0123456789'])
    });
    await jest.advanceTimersByTimeAsync(
      RECONNECT_DELAYS[0] + RECONNECT_DELAYS[1]
    );
    await expect(done).resolves.toEqual({ path: 'f.bin' });
    expect(calls).toEqual([
      'start 1',
      'chunk u1@0',
      'start 2',
      'chunk u2@0',
      'chunk u2@4',
      'chunk u2@8',
      'commit u2'
    ]);
  });

  it('gives up on a refusal at once', async () => {
    const api = {
      startStorageUpload: async () => {
        throw new ApiError({
          status: 409,
          reason: 'conflict',
          message: 'exists'
        });
      }
    } as unknown as RayDevAPI;
    await expect(
      uploadFile(api, { root: 't', path: 'f', file: new Blob(['x']) })
    ).rejects.toMatchObject({ status: 409 });
  });
});
