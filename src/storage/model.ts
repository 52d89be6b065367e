/**
 * The listing of one folder, loaded page by page as the list scrolls.
 *
 * Pure state (no DOM): the panel renders `state` and calls `ensureLoaded`
 * with the last row on screen. Answers for a folder the user has left are
 * dropped (a generation counter), so fast clicking never mixes listings.
 */
import { Signal, type ISignal } from '@lumino/signaling';

import {
  ApiError,
  type IRayFolder,
  type IStorageEntry,
  type IStorageListing
} from '../api';

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

/** Rows before the end of what is loaded at which the next page is asked for. */
export const PREFETCH_ROWS = 200;

/** The first page: small, for a fast first paint. */
export const DEFAULT_PAGE_SIZE = 500;

/** Later pages: bigger, fewer round trips while scrolling through 100k. */
export const DEFAULT_NEXT_PAGE_SIZE = 2000;

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
    this._state = {
      root,
      path,
      entries: [],
      version: this._state.version + 1,
      nextCursor: null,
      loaded: false,
      loading: false,
      error: null,
      ray: null,
      selected: -1
    };
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
  private _state: IListingState = {
    root: null,
    path: '',
    entries: [],
    version: 0,
    nextCursor: null,
    loaded: false,
    loading: false,
    error: null,
    ray: null,
    selected: -1
  };
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

/** Any failure as an `ApiError` (the client already throws those). */
export function toApiError(reason: unknown): ApiError {
  if (reason instanceof ApiError) {
    return reason;
  }
  return new ApiError({
    status: 0,
    reason: 'error',
    message: reason instanceof Error ? reason.message : String(reason)
  });
}
