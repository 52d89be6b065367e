/**
 * Chunked uploads through `POST uploads` / `PUT uploads/{id}` / `commit`.
 *
 * The file appears only on commit (the server writes to a temp file or an
 * S3 multipart upload): a failed or cancelled upload is aborted, so it leaves
 * nothing behind. Progress is reported after each chunk.
 */
import { Signal, type ISignal } from '@lumino/signaling';

import {
  type ApiError,
  type IStorageItem,
  type IStorageUpload,
  type RayDevAPI,
  toApiError
} from '../api';
import { RECONNECT_DELAYS } from '../polling';
import { joinPath } from './paths';

/** One chunk: bytes `[start, end)` of the file. */
export interface IChunk {
  start: number;
  end: number;
}

/**
 * The chunks of a file of `size` bytes: `chunkSize` each (the server's
 * suggestion, capped at its maximum), the last one shorter; an empty file
 * is one empty chunk so the session still receives a request.
 */
export function planChunks(
  size: number,
  chunkSize: number,
  maxChunkSize = Infinity
): IChunk[] {
  const step = Math.max(1, Math.min(chunkSize, maxChunkSize));
  if (size <= 0) {
    return [{ start: 0, end: 0 }];
  }
  const chunks: IChunk[] = [];
  for (let start = 0; start < size; start += step) {
    chunks.push({ start, end: Math.min(size, start + step) });
  }
  return chunks;
}

/** The subset of the API client an upload uses (a stub in tests). */
export type UploadApi = Pick<
  RayDevAPI,
  | 'startStorageUpload'
  | 'sendStorageChunk'
  | 'commitStorageUpload'
  | 'abortStorageUpload'
>;

export interface IUploadOptions {
  root: string;
  /** Target path of the file, relative to the root. */
  path: string;
  file: Blob;
  overwrite?: boolean;
  /** Called with bytes sent so far (after each chunk). */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Upload one file in chunks. When the Jupyter server stops answering (a
 * restart) or forgets the session (404 upload_not_found), it starts again
 * from the first byte once the server answers, up to `RECONNECT_DELAYS.length`
 * times; any other failure is final.
 */
export async function uploadFile(
  api: UploadApi,
  options: IUploadOptions
): Promise<IStorageItem> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await uploadOnce(api, options);
    } catch (reason) {
      const error = toApiError(reason);
      // the server itself went away (a 503 is the storage's own: said at once)
      const lost =
        [0, 502, 504].includes(error.status) ||
        (error.status === 404 && error.reason === 'upload_not_found');
      if (
        options.signal?.aborted ||
        !lost ||
        attempt >= RECONNECT_DELAYS.length
      ) {
        throw reason;
      }
      options.onProgress?.(0, options.file.size);
      await new Promise(resolve =>
        setTimeout(resolve, RECONNECT_DELAYS[attempt])
      );
    }
  }
}

/** One try: a session, its chunks, its commit; aborts the session on any failure. */
async function uploadOnce(
  api: UploadApi,
  options: IUploadOptions
): Promise<IStorageItem> {
  const { root, path, file, signal } = options;
  const total = file.size;
  const session: IStorageUpload = await api.startStorageUpload(root, path, {
    size: total,
    overwrite: options.overwrite ?? false
  });
  try {
    for (const chunk of planChunks(
      total,
      session.chunk_size,
      session.max_chunk_size
    )) {
      if (signal?.aborted) {
        throw new DOMException('Upload cancelled', 'AbortError');
      }
      await api.sendStorageChunk(
        root,
        session.upload_id,
        file.slice(chunk.start, chunk.end),
        chunk.start,
        total,
        signal
      );
      options.onProgress?.(chunk.end, total);
    }
    if (signal?.aborted) {
      throw new DOMException('Upload cancelled', 'AbortError');
    }
    return await api.commitStorageUpload(root, session.upload_id);
  } catch (reason) {
    // leave nothing behind; the server also reaps idle sessions
    await api
      .abortStorageUpload(root, session.upload_id)
      .catch(() => undefined);
    throw reason;
  }
}

export type UploadStatus = 'uploading' | 'done' | 'error' | 'cancelled';

/** One upload shown in the panel. */
export interface IUploadItem {
  id: number;
  root: string;
  path: string;
  name: string;
  loaded: number;
  total: number;
  status: UploadStatus;
  error?: ApiError;
}

/**
 * The uploads of the panel: started, tracked (progress), cancellable;
 * finished ones stay listed until cleared.
 */
export class UploadQueue {
  constructor(api: UploadApi) {
    this._api = api;
  }

  get items(): readonly IUploadItem[] {
    return this._items;
  }

  get changed(): ISignal<this, readonly IUploadItem[]> {
    return this._changed;
  }

  /**
   * Upload `file` into folder `dir` of `root`. Resolves with the new item,
   * or `null` when it failed or was cancelled (the item says why).
   * `overwrite` answers a 409 "already exists".
   */
  async add(
    root: string,
    dir: string,
    file: File,
    confirmOverwrite?: (name: string) => Promise<boolean>
  ): Promise<IStorageItem | null> {
    const item: IUploadItem = {
      id: ++this._ids,
      root,
      path: joinPath(dir, file.name),
      name: file.name,
      loaded: 0,
      total: file.size,
      status: 'uploading'
    };
    const controller = new AbortController();
    this._controllers.set(item.id, controller);
    this._items = [...this._items, item];
    this._emit();
    const run = (overwrite: boolean) =>
      uploadFile(this._api, {
        root,
        path: item.path,
        file,
        overwrite,
        signal: controller.signal,
        onProgress: loaded => this._patch(item.id, { loaded })
      });
    try {
      let result: IStorageItem;
      try {
        result = await run(false);
      } catch (reason) {
        const error = toApiError(reason);
        if (
          error.status === 409 &&
          confirmOverwrite &&
          !controller.signal.aborted &&
          (await confirmOverwrite(file.name))
        ) {
          result = await run(true);
        } else {
          throw reason;
        }
      }
      this._patch(item.id, { status: 'done', loaded: item.total });
      return result;
    } catch (reason) {
      if (controller.signal.aborted) {
        this._patch(item.id, { status: 'cancelled' });
      } else {
        this._patch(item.id, { status: 'error', error: toApiError(reason) });
      }
      return null;
    } finally {
      this._controllers.delete(item.id);
    }
  }

  /** Stop an upload in progress (its session is aborted). */
  cancel(id: number): void {
    this._controllers.get(id)?.abort();
  }

  /** Forget finished, failed and cancelled uploads. */
  clearFinished(): void {
    this._items = this._items.filter(i => i.status === 'uploading');
    this._emit();
  }

  private _patch(id: number, patch: Partial<IUploadItem>): void {
    this._items = this._items.map(i => (i.id === id ? { ...i, ...patch } : i));
    this._emit();
  }

  private _emit(): void {
    this._changed.emit(this._items);
  }

  private _api: UploadApi;
  private _ids = 0;
  private _items: IUploadItem[] = [];
  private _controllers = new Map<number, AbortController>();
  private _changed = new Signal<this, readonly IUploadItem[]>(this);
}

/** Percent done (0-100), 100 for an empty file that is done. */
export function percent(
  item: Pick<IUploadItem, 'loaded' | 'total' | 'status'>
): number {
  if (item.total <= 0) {
    return item.status === 'done' ? 100 : 0;
  }
  return Math.round((100 * item.loaded) / item.total);
}
