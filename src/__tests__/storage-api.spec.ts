/**
 * The storage methods of the API client against a stubbed `fetch` (the
 * real server is covered by the Python tests and ui-tests/tests/storage.spec.ts).
 */
import { ApiError } from '../api';
import { apiWith, json } from './stub-fetch';

const BASE = '/user/me/ray-dev/api/storage';

describe('RayDevAPI storage', () => {
  it('lists roots and pages, the path and cursor in the query', async () => {
    const { api, calls } = apiWith(call =>
      call.path.endsWith('/roots')
        ? json({
            roots: [
              {
                name: 'a',
                url: '/x',
                protocol: 'file',
                read_only: false,
                option_names: []
              }
            ]
          })
        : json({ root: 'a', path: 'p/q', entries: [], next_cursor: null })
    );
    const roots = await api.listStorageRoots();
    expect(roots.map(r => r.name)).toEqual(['a']);
    await api.listStorage('a', 'p/q', { limit: 100, cursor: 'opaque+/=' });
    expect(calls[1].path).toBe(`${BASE}/a/list`);
    expect(calls[1].query.get('path')).toBe('p/q');
    expect(calls[1].query.get('limit')).toBe('100');
    expect(calls[1].query.get('cursor')).toBe('opaque+/=');
  });

  it('never puts an item path in the URL path', async () => {
    const { api, calls } = apiWith(() => json({}));
    await api.statStorage('a', '../etc/passwd');
    await api.previewStorage('a', 'dir/x.csv', 4096);
    expect(calls[0].path).toBe(`${BASE}/a/stat`);
    expect(calls[0].query.get('path')).toBe('../etc/passwd');
    expect(calls[1].path).toBe(`${BASE}/a/preview`);
    expect(calls[1].query.get('max_bytes')).toBe('4096');
    const url = new URL(api.storageDownloadUrl('a', 'd/f 1.bin'));
    expect(url.pathname).toBe(`${BASE}/a/download`);
    expect(url.searchParams.get('path')).toBe('d/f 1.bin');
  });

  it('adds the token to download links when the settings say so', () => {
    const { api } = apiWith(() => json({}), {
      token: 'secret',
      appendToken: true
    });
    expect(
      new URL(api.storageDownloadUrl('a', 'f')).searchParams.get('token')
    ).toBe('secret');
    const { api: plain } = apiWith(() => json({}), {
      token: '',
      appendToken: false
    });
    expect(
      new URL(plain.storageDownloadUrl('a', 'f')).searchParams.has('token')
    ).toBe(false);
  });

  it('sends writes as JSON bodies and chunks as bytes with their range', async () => {
    const { api, calls } = apiWith(call =>
      call.method === 'DELETE'
        ? json(null, 204)
        : json({ upload_id: 'u', received: 0 }, 201)
    );
    await api.startStorageUpload('a', 'd/f.txt', { size: 5 });
    await api.sendStorageChunk('a', 'u', new Blob(['hello']), 10, 15);
    await api.commitStorageUpload('a', 'u');
    await api.abortStorageUpload('a', 'u');
    await api.makeStorageFolder('a', 'new');
    await api.renameStorage('a', 'old', 'new');
    await api.deleteStorage('a', 'dir', true);
    expect(calls.map(c => `${c.method} ${c.path.slice(BASE.length)}`)).toEqual([
      'POST /a/uploads',
      'PUT /a/uploads/u',
      'POST /a/uploads/u/commit',
      'DELETE /a/uploads/u',
      'POST /a/mkdir',
      'POST /a/rename',
      'POST /a/delete'
    ]);
    expect(JSON.parse(calls[0].body)).toEqual({
      path: 'd/f.txt',
      size: 5,
      overwrite: false
    });
    expect(calls[1].headers.get('Content-Range')).toBe('bytes 10-14/15');
    expect(calls[1].headers.get('Content-Type')).toBe(
      'application/octet-stream'
    );
    expect(JSON.parse(calls[5].body)).toEqual({ path: 'old', new_path: 'new' });
    expect(JSON.parse(calls[6].body)).toEqual({ path: 'dir', recursive: true });
  });

  it('turns a 403 on a read-only root into an ApiError with the message', async () => {
    const { api } = apiWith(() =>
      json(
        { message: "Storage root 'ckpt' is read-only.", reason: 'read_only' },
        403
      )
    );
    const error = await api.makeStorageFolder('ckpt', 'x').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(403);
    expect(error.message).toContain('read-only');
  });
});
