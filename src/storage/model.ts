/**
 * The Storage panel's state, without DOM: the roots, the folder on screen
 * (`ListingModel`, loaded page by page), the preview, the uploads and the
 * last failed action. The panel renders `StorageModel.state` and asks the
 * user (dialogs, clipboard) before calling the model.
 */
import {
  type ITranslator,
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Signal, type ISignal } from '@lumino/signaling';

import {
  ApiError,
  type IRayFolder,
  type IStorageEntry,
  type IStorageItem,
  type IStorageListing,
  type IStoragePreview,
  type IStorageRoot,
  type RayDevAPI,
  toApiError
} from '../api';
import { isUnreachable, RECONNECT_DELAYS } from '../polling';
import { baseName, invalidName, itemUri, joinPath, parentPath } from './paths';
import { defaultSnippet, type ISnippet, snippetsFor } from './snippets';
import { type IUploadItem, UploadQueue } from './upload';

/** Fetch one page: `cursor` is `null` for the first page. */
export type FetchPage = (
  root: string,
  path: string,
  cursor: string | null,
  limit: number
) => Promise<IStorageListing>;

export interface IListingState {
  root: string | null;
  path: string;
  /** Every entry loaded so far, in the backend's order. */
  entries: IStorageEntry[];
  /** Bumped on every change: entries are appended in place. */
  version: number;
  nextCursor: string | null;
  /** The first page has arrived. */
  loaded: boolean;
  /** A page request is in flight. */
  loading: boolean;
  error: ApiError | null;
  /** The folder's own Ray Train/Tune kind (from the first page). */
  ray: IRayFolder | null;
  /** The selected row, -1 for none. */
  selected: number;
}

/** A listing of folder `path` with nothing loaded, nothing selected. */
function unloaded(
  root: string | null,
  path: string,
  version: number
): IListingState {
  return {
    root,
    path,
    entries: [],
    version,
    nextCursor: null,
    loaded: false,
    loading: false,
    error: null,
    ray: null,
    selected: -1
  };
}

/** Rows before the end of what is loaded at which the next page is asked for. */
export const PREFETCH_ROWS = 200;

/** The first page: small, for a fast first paint. */
export const DEFAULT_PAGE_SIZE = 500;

/** Later pages: bigger, fewer round trips while scrolling through 100k. */
export const DEFAULT_NEXT_PAGE_SIZE = 2000;

/**
 * The listing of one folder, loaded page by page as the list scrolls: the
 * panel renders `state` and calls `ensureLoaded` with the last row on screen.
 * Answers for a folder the user has left are dropped (a generation counter),
 * so fast clicking never mixes listings.
 */
/**
 * The listing of one folder, loaded page by page as the list scrolls: the
 * panel renders `state` and calls `ensureLoaded` with the last row on screen.
 * Answers for a folder the user has left are dropped (a generation counter),
 * so fast clicking never mixes listings.
 */
export class ListingModel {
  constructor(options: ListingModel.IOptions) {
    this._fetch = options.fetchPage;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.nextPageSize = options.nextPageSize ?? DEFAULT_NEXT_PAGE_SIZE;
  }

  readonly pageSize: number;
  readonly nextPageSize: number;

  get state(): Readonly<IListingState> {
    return this._state;
  }

  get changed(): ISignal<this, IListingState> {
    return this._changed;
  }

  /** Whether more pages exist. */
  get hasMore(): boolean {
    return this._state.nextCursor !== null;
  }

  /** The selected entry, if any. */
  get selectedEntry(): IStorageEntry | null {
    const { entries, selected } = this._state;
    return selected >= 0 && selected < entries.length
      ? entries[selected]
      : null;
  }

  /** Show folder `path` of `root`, loading its first page. */
  open(root: string, path = ''): Promise<void> {
    this._generation++;
    this._state = unloaded(root, path, this._state.version + 1);
    this._emit();
    return this._load(null);
  }

  /** Load the folder again from its first page, keeping the selection by name. */
  async refresh(): Promise<void> {
    const { root, path } = this._state;
    if (root === null) {
      return;
    }
    const keep = this.selectedEntry?.name;
    await this.open(root, path);
    if (keep !== undefined) {
      this.selectByName(keep);
    }
  }

  /** Ask for the next page when `index` (a row on screen) is near the end. */
  ensureLoaded(index: number): void {
    const { entries, nextCursor, loading, error } = this._state;
    if (
      nextCursor !== null &&
      !loading &&
      !error &&
      index >= entries.length - PREFETCH_ROWS
    ) {
      void this._load(nextCursor);
    }
  }

  /** Load the next page (if any) now. */
  loadMore(): Promise<void> {
    const { nextCursor, loading } = this._state;
    if (nextCursor === null || loading) {
      return Promise.resolve();
    }
    return this._load(nextCursor);
  }

  /** Retry the page that failed (the first one, or the next one). */
  retry(): Promise<void> {
    const { root, path, loaded, nextCursor } = this._state;
    if (root === null) {
      return Promise.resolve();
    }
    if (!loaded) {
      return this.open(root, path);
    }
    this._update({ error: null });
    return this._load(nextCursor);
  }

  /** Select a row (clamped to what is loaded; -1 clears). */
  select(index: number): void {
    const count = this._state.entries.length;
    const selected = count === 0 || index < 0 ? -1 : Math.min(index, count - 1);
    if (selected !== this._state.selected) {
      this._update({ selected });
    }
  }

  /** Move the selection by `delta` rows (arrows, page keys). */
  move(delta: number): void {
    const { selected, entries } = this._state;
    if (!entries.length) {
      return;
    }
    const from = selected < 0 ? (delta > 0 ? -1 : entries.length) : selected;
    this.select(Math.max(0, Math.min(entries.length - 1, from + delta)));
  }

  /** Select the loaded entry called `name`; false when it is not loaded. */
  selectByName(name: string): boolean {
    const index = this._state.entries.findIndex(e => e.name === name);
    if (index >= 0) {
      this.select(index);
    }
    return index >= 0;
  }

  /** The Ray kind of a folder once known (stat), for badges in the list. */
  rayInfo(path: string): IRayFolder | null | undefined {
    return this._rayInfo.get(path);
  }

  setRayInfo(path: string, info: IRayFolder | null): void {
    this._rayInfo.set(path, info);
    this._update({});
  }

  private async _load(cursor: string | null): Promise<void> {
    const generation = this._generation;
    const { root, path } = this._state;
    if (root === null) {
      return;
    }
    this._update({ loading: true, error: null });
    let page: IStorageListing;
    try {
      page = await this._fetch(
        root,
        path,
        cursor,
        cursor === null ? this.pageSize : this.nextPageSize
      );
    } catch (reason) {
      if (generation === this._generation) {
        this._update({ loading: false, error: toApiError(reason) });
      }
      return;
    }
    if (generation !== this._generation) {
      return; // the user has moved on
    }
    // append in place: copying a 100k array per page would be quadratic
    const entries = this._state.entries;
    for (const entry of page.entries) {
      entries.push(entry);
    }
    this._update({
      entries,
      loaded: true,
      loading: false,
      nextCursor: page.next_cursor,
      ray: cursor === null ? (page.ray ?? null) : this._state.ray
    });
  }

  private _update(patch: Partial<IListingState>): void {
    this._state = {
      ...this._state,
      ...patch,
      version: this._state.version + 1
    };
    this._emit();
  }

  private _emit(): void {
    this._changed.emit(this._state);
  }

  private _fetch: FetchPage;
  private _generation = 0;
  private _rayInfo = new Map<string, IRayFolder | null>();
  private _state: IListingState = unloaded(null, '', 0);
  private _changed = new Signal<this, IListingState>(this);
}

export namespace ListingModel {
  export interface IOptions {
    fetchPage: FetchPage;
    /** Entries of the first page (default 500). */
    pageSize?: number;
    /** Entries of each later page (default 2000). */
    nextPageSize?: number;
  }
}

/** What the preview pane shows. */
export interface IPreviewState {
  target: IStorageEntry | null;
  preview: IStoragePreview | null;
  item: IStorageItem | null;
  loading: boolean;
  error: ApiError | null;
}

export const EMPTY_PREVIEW: IPreviewState = {
  target: null,
  preview: null,
  item: null,
  loading: false,
  error: null
};

/** Everything the panel renders, as one snapshot. */
export interface IStorageState {
  roots: IStorageRoot[] | null;
  rootsError: ApiError | null;
  root: IStorageRoot | null;
  listing: IListingState;
  uploads: readonly IUploadItem[];
  preview: IPreviewState;
  actionError: ApiError | null;
}

/** The pause after a selection before its preview is asked for (arrowing through rows). */
export const PREVIEW_DELAY = 150;

/**
 * The storage roots and the folder, preview, uploads and errors on screen.
 * Every change emits `changed` and bumps `version`.
 */
export class StorageModel {
  constructor(options: StorageModel.IOptions) {
    this._api = options.api;
    this._trans = (options.translator ?? nullTranslator).load(
      'jupyter_ray_dev'
    );
    this.listing = new ListingModel({
      fetchPage: (root, path, cursor, limit) =>
        this._api.listStorage(root, path, { cursor, limit }),
      pageSize: options.pageSize
    });
    this.uploads = new UploadQueue(this._api);
    this.listing.changed.connect(this._onListingChanged, this);
    this.uploads.changed.connect(() => this._changed.emit(), this);
    // connected first, so the version has moved before any view hears of it
    this._changed.connect(() => this._version++, this);
  }

  readonly listing: ListingModel;
  readonly uploads: UploadQueue;

  /** Emitted whenever the view must re-render. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Bumped on every change: the view's snapshot for useSyncExternalStore. */
  get version(): number {
    return this._version;
  }

  /** The roots, once loaded. */
  get roots(): IStorageRoot[] | null {
    return this._roots;
  }

  /** The root on screen. */
  get root(): IStorageRoot | null {
    return this._root;
  }

  /** Whether changes are refused on the current root. */
  get readOnly(): boolean {
    return this._root?.read_only ?? true;
  }

  get state(): IStorageState {
    return {
      roots: this._roots,
      rootsError: this._rootsError,
      root: this._root,
      listing: this.listing.state,
      uploads: this.uploads.items,
      preview: this._preview,
      actionError: this._actionError
    };
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    clearTimeout(this._previewTimer);
    clearTimeout(this._reconnectTimer);
    Signal.clearData(this);
  }

  /** Load the roots the first time only (not while a load is under way). */
  loadOnce(): void {
    if (!this._roots && !this._rootsLoading) {
      this._rootsLoading = true;
      void this.loadRoots().finally(() => (this._rootsLoading = false));
    }
  }

  /** Load the roots and open the first one (or `root`). */
  async loadRoots(root?: string, path = ''): Promise<void> {
    this._rootsError = null;
    this._changed.emit();
    try {
      this._roots = await this._api.listStorageRoots();
    } catch (reason) {
      this._rootsError = toApiError(reason);
      this._reconnectLater(this._rootsError);
      this._changed.emit();
      return;
    }
    const target =
      this._roots.find(r => r.name === (root ?? this._root?.name)) ??
      this._roots[0];
    if (target) {
      await this.openRoot(target.name, root ? path : this.listing.state.path);
    } else {
      this._changed.emit();
    }
  }

  /** Show folder `path` of root `name`. */
  openRoot(name: string, path = ''): Promise<void> {
    const root = this._roots?.find(r => r.name === name) ?? null;
    this._root = root;
    this._actionError = null;
    this._clearPreview();
    if (!root) {
      this._changed.emit();
      return Promise.resolve();
    }
    return this.listing.open(root.name, path);
  }

  /** Open a folder of the current root. */
  navigate(path: string): Promise<void> {
    if (!this._root) {
      return Promise.resolve();
    }
    this._clearPreview();
    return this.listing.open(this._root.name, path);
  }

  /** Go to the parent folder, selecting the folder we came from. */
  async goUp(): Promise<void> {
    const path = this.listing.state.path;
    if (!path || !this._root) {
      return;
    }
    await this.navigate(parentPath(path));
    this.listing.selectByName(baseName(path));
  }

  /** Reload the roots and the folder on screen. */
  refresh(): Promise<void> {
    if (!this._roots) {
      return this.loadRoots();
    }
    return this.listing.refresh();
  }

  /** Try again what failed: the roots, else the folder's page. */
  retry(): Promise<void> {
    return this._roots ? this.listing.retry() : this.loadRoots();
  }

  /** Open a row: enter a folder, preview a file right away. */
  openEntry(entry: IStorageEntry): void {
    if (entry.kind === 'directory') {
      void this.navigate(entry.path);
    } else {
      clearTimeout(this._previewTimer);
      void this.preview(entry);
    }
  }

  /** Preview a file, or summarise a folder (its Ray Train/Tune kind). */
  async preview(entry: IStorageEntry): Promise<void> {
    const root = this._root;
    if (!root) {
      return;
    }
    const token = ++this._previewToken;
    this._preview = { ...EMPTY_PREVIEW, target: entry, loading: true };
    this._changed.emit();
    try {
      if (entry.kind === 'directory') {
        const item = await this._api.statStorage(root.name, entry.path);
        this.listing.setRayInfo(entry.path, item.ray ?? null);
        if (token === this._previewToken) {
          this._preview = { ...this._preview, item, loading: false };
        }
      } else {
        const preview = await this._api.previewStorage(root.name, entry.path);
        if (token === this._previewToken) {
          this._preview = { ...this._preview, preview, loading: false };
        }
      }
    } catch (reason) {
      if (token === this._previewToken) {
        this._preview = {
          ...this._preview,
          loading: false,
          error: toApiError(reason)
        };
      }
    }
    this._changed.emit();
  }

  closePreview(): void {
    this._clearPreview();
    this._changed.emit();
  }

  /** The item's URI (absolute path, s3://..., gs://...). */
  uri(entry: Pick<IStorageEntry, 'path'>): string {
    return this._root ? itemUri(this._root, entry.path) : entry.path;
  }

  /** The URL that downloads a file (the server streams it); null for folders. */
  downloadUrl(entry: IStorageEntry): string | null {
    if (!this._root || entry.kind !== 'file') {
      return null;
    }
    return this._api.storageDownloadUrl(this._root.name, entry.path);
  }

  /** The snippets that read `entry`, the default first. */
  snippets(entry: IStorageEntry): ISnippet[] {
    if (!this._root) {
      return [];
    }
    return snippetsFor(
      this._root,
      {
        ...entry,
        ray:
          this._preview.target?.path === entry.path && this._preview.item
            ? (this._preview.item.ray ?? null)
            : (this.listing.rayInfo(entry.path) ??
              (entry.path === this.listing.state.path
                ? this.listing.state.ray
                : null))
      },
      this._trans
    );
  }

  /** The snippet for `entry`; a folder's Ray kind is asked for once first. */
  async defaultSnippet(entry: IStorageEntry): Promise<ISnippet | null> {
    const root = this._root;
    if (!root) {
      return null;
    }
    if (entry.kind === 'directory' && !this.listing.rayInfo(entry.path)) {
      try {
        const item = await this._api.statStorage(root.name, entry.path);
        this.listing.setRayInfo(entry.path, item.ray ?? null);
      } catch {
        // a plain folder snippet will do
      }
    }
    return this.snippets(entry)[0] ?? defaultSnippet(root, entry, this._trans);
  }

  /** Create folder `name` in the folder on screen and select it. */
  async makeFolder(name: string): Promise<void> {
    await this._writeNamed(name, root =>
      this._api.makeStorageFolder(
        root.name,
        joinPath(this.listing.state.path, name)
      )
    );
  }

  /** Rename `entry` to `name` in its folder and select it. */
  async rename(entry: IStorageEntry, name: string): Promise<void> {
    await this._writeNamed(name, root =>
      this._api.renameStorage(
        root.name,
        entry.path,
        joinPath(parentPath(entry.path), name)
      )
    );
  }

  /**
   * Run `write`, which leaves an entry called `name` in the folder on screen,
   * then reload that folder and select the entry.
   */
  private async _writeNamed(
    name: string,
    write: (root: IStorageRoot) => Promise<unknown>
  ): Promise<void> {
    const root = this._writableRoot();
    if (!root || !this._validName(name)) {
      return;
    }
    await this._act(async () => {
      await write(root);
      await this.listing.refresh();
      this.listing.selectByName(name);
    });
  }

  /** Delete `entry` (a folder with everything in it). */
  async remove(entry: IStorageEntry): Promise<void> {
    const root = this._writableRoot();
    if (!root) {
      return;
    }
    await this._act(async () => {
      await this._api.deleteStorage(
        root.name,
        entry.path,
        entry.kind === 'directory'
      );
      if (this._preview.target?.path === entry.path) {
        this._clearPreview();
      }
      const index = this.listing.state.selected;
      await this.listing.refresh();
      this.listing.select(
        Math.min(index, this.listing.state.entries.length - 1)
      );
    });
  }

  /**
   * Upload files into the folder on screen, then show them. `confirmOverwrite`
   * answers "already exists"; the caller refuses read-only roots first.
   */
  async upload(
    files: File[],
    confirmOverwrite: (name: string) => Promise<boolean>
  ): Promise<void> {
    const root = this._root;
    if (!root) {
      return;
    }
    const dir = this.listing.state.path;
    const results = await Promise.all(
      files.map(file =>
        this.uploads.add(root.name, dir, file, confirmOverwrite)
      )
    );
    const done = results.filter(r => r !== null);
    if (
      done.length &&
      this._root?.name === root.name &&
      this.listing.state.path === dir
    ) {
      await this.listing.refresh();
      this.listing.selectByName(baseName(done[done.length - 1]!.path));
    }
  }

  /** Show an error about an action the server was never asked about. */
  showActionError(message: string, status = 400): void {
    this._actionError = new ApiError({ status, reason: 'invalid', message });
    this._changed.emit();
  }

  dismissError(): void {
    this._actionError = null;
    this._changed.emit();
  }

  /** A new selection is previewed after a short pause (arrowing through rows). */
  /** Try again by itself while the server or the storage does not answer. */
  private _reconnectLater(error: ApiError | null): void {
    if (!isUnreachable(error)) {
      if (error === null) {
        this._reconnects = 0;
      }
      return;
    }
    if (this._reconnectTimer !== undefined || this._isDisposed) {
      return;
    }
    const delay =
      RECONNECT_DELAYS[Math.min(this._reconnects, RECONNECT_DELAYS.length - 1)];
    this._reconnects++;
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = undefined;
      void this.retry();
    }, delay);
  }

  private _onListingChanged(): void {
    const { error, loaded, loading } = this.listing.state;
    if (error || (loaded && !loading)) {
      this._reconnectLater(error);
    }
    const entry = this.listing.selectedEntry;
    const selectedPath = entry?.path ?? null;
    if (selectedPath !== this._lastSelected) {
      this._lastSelected = selectedPath;
      clearTimeout(this._previewTimer);
      if (entry && this._preview.target?.path !== entry.path) {
        this._previewTimer = setTimeout(
          () => void this.preview(entry),
          PREVIEW_DELAY
        );
      }
    }
    this._changed.emit();
  }

  private _clearPreview(): void {
    this._previewToken++;
    clearTimeout(this._previewTimer);
    this._preview = EMPTY_PREVIEW;
    this._lastSelected = null;
  }

  private _writableRoot(): IStorageRoot | null {
    const root = this._root;
    return root && !root.read_only ? root : null;
  }

  private _validName(name: string): boolean {
    const bad = invalidName(name, this._trans);
    if (bad) {
      this.showActionError(bad);
    }
    return !bad;
  }

  private async _act(action: () => Promise<void>): Promise<void> {
    this._actionError = null;
    this._changed.emit();
    try {
      await action();
    } catch (reason) {
      this._actionError = toApiError(reason);
      this._changed.emit();
    }
  }

  private _api: RayDevAPI;
  private _trans: TranslationBundle;
  private _isDisposed = false;
  private _roots: IStorageRoot[] | null = null;
  private _rootsError: ApiError | null = null;
  private _rootsLoading = false;
  private _root: IStorageRoot | null = null;
  private _preview: IPreviewState = EMPTY_PREVIEW;
  private _previewToken = 0;
  private _previewTimer: ReturnType<typeof setTimeout> | undefined;
  private _reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private _reconnects = 0;
  private _lastSelected: string | null = null;
  private _actionError: ApiError | null = null;
  private _changed = new Signal<this, void>(this);
  private _version = 0;
}

export namespace StorageModel {
  export interface IOptions {
    api: RayDevAPI;
    /** Entries of a folder's first page. */
    pageSize?: number;
    /** The language of snippet labels and name checks (English by default). */
    translator?: ITranslator;
  }
}
