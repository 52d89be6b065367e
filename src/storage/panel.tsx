/**
 * The Storage sidebar panel: browse the configured storage roots (local/NFS,
 * S3, GCS), preview, upload, download and change files, and insert code that
 * reads them into the active notebook.
 */
import {
  Clipboard,
  Dialog,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  ApiError,
  type IStorageEntry,
  type IStorageRoot,
  type RayDevAPI
} from '../api';
import {
  type IPreviewState,
  type IStorageActions,
  StorageView
} from './components';
import { ListingModel, toApiError } from './model';
import { baseName, invalidName, itemUri, joinPath, parentPath } from './paths';
import { defaultSnippet, type ISnippet, snippetsFor } from './snippets';
import { UploadQueue } from './upload';
import { storageIcon } from './icon';

/** The panel's id, used by the shell, the restorer and commands. */
export const STORAGE_PANEL_ID = 'jupyter-ray-dev:storage';

/** Class of one entry row: the context menu's selector. */
export const ENTRY_CLASS = 'jp-RayDev-storageEntry';

const PREVIEW_DELAY = 150;

const EMPTY_PREVIEW: IPreviewState = {
  target: null,
  preview: null,
  item: null,
  loading: false,
  error: null
};

export class StoragePanel extends ReactWidget {
  constructor(options: StoragePanel.IOptions) {
    super();
    this.id = STORAGE_PANEL_ID;
    this.addClass('jp-RayDev-storagePanel');
    this._api = options.api;
    this._insertCode = options.insertCode;
    this._trans = options.translator.load('jupyter_ray_dev');
    this.title.icon = storageIcon;
    this.title.caption = this._trans.__('Ray storage');
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

  /** Bumped on every change: the view's snapshot for useSyncExternalStore. */
  get version(): number {
    return this._version;
  }

  readonly listing: ListingModel;
  readonly uploads: UploadQueue;

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

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearTimeout(this._previewTimer);
    Signal.clearData(this);
    super.dispose();
  }

  /** Load the roots and open the first one (or `root`). */
  async loadRoots(root?: string, path = ''): Promise<void> {
    this._rootsError = null;
    this._changed.emit();
    try {
      this._roots = await this._api.listStorageRoots();
    } catch (reason) {
      this._rootsError = toApiError(reason);
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

  /** Select a row and preview it (after a short pause while arrowing). */
  select(index: number): void {
    this.listing.select(index);
  }

  /** Open a row: enter a folder, preview a file right away. */
  openEntry(entry: IStorageEntry): void {
    if (entry.kind === 'directory') {
      void this.navigate(entry.path);
    } else {
      window.clearTimeout(this._previewTimer);
      void this.preview(entry);
    }
  }

  /** The entry of a row element (context menu), else the selection. */
  entryFor(node?: HTMLElement | null): IStorageEntry | null {
    const row = node?.closest<HTMLElement>(`.${ENTRY_CLASS}`);
    const index = row?.dataset.index;
    if (index !== undefined) {
      return this.listing.state.entries[Number(index)] ?? null;
    }
    return this.listing.selectedEntry;
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

  /** The item's URI (absolute path, s3://..., gs://...). */
  uri(entry: IStorageEntry): string {
    return this._root ? itemUri(this._root, entry.path) : entry.path;
  }

  /** The snippets that read `entry`, the default first. */
  snippets(entry: IStorageEntry): ISnippet[] {
    if (!this._root) {
      return [];
    }
    return snippetsFor(this._root, {
      ...entry,
      ray:
        this._preview.target?.path === entry.path && this._preview.item
          ? (this._preview.item.ray ?? null)
          : (this.listing.rayInfo(entry.path) ??
            (entry.path === this.listing.state.path
              ? this.listing.state.ray
              : null))
    });
  }

  copyUri(entry: IStorageEntry): void {
    Clipboard.copyToSystem(this.uri(entry));
    Notification.info(this._trans.__('Copied %1', this.uri(entry)), {
      autoClose: 2000
    });
  }

  /** Start a browser download of a file (the server streams it). */
  download(entry: IStorageEntry): void {
    if (!this._root || entry.kind !== 'file') {
      return;
    }
    const link = document.createElement('a');
    link.href = this._api.storageDownloadUrl(this._root.name, entry.path);
    link.download = entry.name;
    link.rel = 'noopener';
    link.style.display = 'none';
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  /** Put code reading `entry` into the active notebook (else the clipboard). */
  async insertSnippet(entry: IStorageEntry, snippet?: ISnippet): Promise<void> {
    if (!this._root) {
      return;
    }
    let chosen = snippet;
    if (!chosen) {
      if (entry.kind === 'directory' && !this.listing.rayInfo(entry.path)) {
        // the folder's Ray kind decides the snippet: ask once
        try {
          const item = await this._api.statStorage(this._root.name, entry.path);
          this.listing.setRayInfo(entry.path, item.ray ?? null);
        } catch {
          // a plain folder snippet will do
        }
      }
      chosen = this.snippets(entry)[0] ?? defaultSnippet(this._root, entry);
    }
    const inserted = this._insertCode
      ? await this._insertCode(chosen.code)
      : false;
    if (!inserted) {
      Clipboard.copyToSystem(chosen.code);
      Notification.info(
        this._trans.__(
          'No notebook is open: the snippet was copied to the clipboard.'
        ),
        { autoClose: 4000 }
      );
    }
  }

  copyText(text: string): void {
    Clipboard.copyToSystem(text);
    Notification.info(this._trans.__('Copied to the clipboard'), {
      autoClose: 2000
    });
  }

  /** Ask for a name and create a folder in the folder on screen. */
  async newFolder(): Promise<void> {
    const root = this._root;
    if (!root || root.read_only) {
      return;
    }
    const result = await InputDialog.getText({
      title: this._trans.__('New folder'),
      label: this._trans.__(
        'Name of the new folder in %1',
        this.uri({ path: this.listing.state.path } as IStorageEntry)
      ),
      placeholder: this._trans.__('folder name'),
      okLabel: this._trans.__('Create')
    });
    const name = result.button.accept ? (result.value ?? '').trim() : '';
    if (!name) {
      return;
    }
    const bad = invalidName(name);
    if (bad) {
      this._showActionError(bad);
      return;
    }
    await this._act(async () => {
      await this._api.makeStorageFolder(
        root.name,
        joinPath(this.listing.state.path, name)
      );
      await this.listing.refresh();
      this.listing.selectByName(name);
    });
  }

  /** Ask for a new name and rename `entry` in its folder. */
  async rename(entry: IStorageEntry): Promise<void> {
    const root = this._root;
    if (!root || root.read_only) {
      return;
    }
    const result = await InputDialog.getText({
      title: this._trans.__('Rename'),
      label: this._trans.__('New name of %1', entry.name),
      text: entry.name,
      okLabel: this._trans.__('Rename')
    });
    const name = result.button.accept ? (result.value ?? '').trim() : '';
    if (!name || name === entry.name) {
      return;
    }
    const bad = invalidName(name);
    if (bad) {
      this._showActionError(bad);
      return;
    }
    await this._act(async () => {
      await this._api.renameStorage(
        root.name,
        entry.path,
        joinPath(parentPath(entry.path), name)
      );
      await this.listing.refresh();
      this.listing.selectByName(name);
    });
  }

  /** Confirm, then delete `entry` (a folder with everything in it). */
  async remove(entry: IStorageEntry): Promise<void> {
    const root = this._root;
    if (!root || root.read_only) {
      return;
    }
    const isDir = entry.kind === 'directory';
    const result = await showDialog({
      title: isDir
        ? this._trans.__('Delete folder')
        : this._trans.__('Delete file'),
      body: isDir
        ? this._trans.__(
            'Delete the folder %1 and everything in it? This cannot be undone.',
            this.uri(entry)
          )
        : this._trans.__('Delete %1? This cannot be undone.', this.uri(entry)),
      buttons: [
        Dialog.cancelButton({ label: this._trans.__('Cancel') }),
        Dialog.warnButton({ label: this._trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    await this._act(async () => {
      await this._api.deleteStorage(root.name, entry.path, isDir);
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

  /** Upload files into the folder on screen, then show them. */
  async uploadFiles(files: File[]): Promise<void> {
    const root = this._root;
    if (!root) {
      return;
    }
    if (root.read_only) {
      this._showActionError(
        this._trans.__('The storage root "%1" is read-only.', root.name),
        403
      );
      return;
    }
    const dir = this.listing.state.path;
    const results = await Promise.all(
      files.map(file =>
        this.uploads.add(root.name, dir, file, name =>
          this._confirmOverwrite(name)
        )
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

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._loadOnce();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._loadOnce();
    }
  }

  /** The roots are fetched the first time the panel is on screen. */
  private _loadOnce(): void {
    if (!this._roots && !this._rootsLoading) {
      this._rootsLoading = true;
      void this.loadRoots().finally(() => (this._rootsLoading = false));
    }
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this.node.querySelector<HTMLElement>('.jp-RayDev-storageList')?.focus();
  }

  protected render(): JSX.Element {
    return <StorageRenderer panel={this} />;
  }

  /** Everything the view renders, as one snapshot. */
  get viewState() {
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

  /** Emitted whenever the view must re-render. */
  get changed(): Signal<this, void> {
    return this._changed;
  }

  readonly actions: IStorageActions = {
    selectRoot: name => void this.openRoot(name),
    navigate: path => void this.navigate(path),
    select: index => this.select(index),
    openIndex: index => {
      const entry = this.listing.state.entries[index];
      if (entry) {
        this.listing.select(index);
        this.openEntry(entry);
      }
    },
    goUp: () => void this.goUp(),
    refresh: () => void this.refresh(),
    retry: () => void (this._roots ? this.listing.retry() : this.loadRoots()),
    newFolder: () => void this.newFolder(),
    uploadFiles: files => void this.uploadFiles(files),
    cancelUpload: id => this.uploads.cancel(id),
    clearUploads: () => this.uploads.clearFinished(),
    dismissError: () => {
      this._actionError = null;
      this._changed.emit();
    },
    download: entry => this.download(entry),
    copyUri: entry => this.copyUri(entry),
    insertSnippet: (entry, snippet) => void this.insertSnippet(entry, snippet),
    copyText: text => this.copyText(text),
    closePreview: () => {
      this._clearPreview();
      this._changed.emit();
    },
    snippets: entry => this.snippets(entry),
    ensureLoaded: index => this.listing.ensureLoaded(index),
    removeSelected: () => {
      const entry = this.listing.selectedEntry;
      if (entry) {
        void this.remove(entry);
      }
    },
    renameSelected: () => {
      const entry = this.listing.selectedEntry;
      if (entry) {
        void this.rename(entry);
      }
    }
  };

  get trans(): TranslationBundle {
    return this._trans;
  }

  private _onListingChanged(): void {
    const entry = this.listing.selectedEntry;
    const selectedPath = entry?.path ?? null;
    if (selectedPath !== this._lastSelected) {
      this._lastSelected = selectedPath;
      window.clearTimeout(this._previewTimer);
      if (entry && this._preview.target?.path !== entry.path) {
        this._previewTimer = window.setTimeout(
          () => void this.preview(entry),
          PREVIEW_DELAY
        );
      }
    }
    this._changed.emit();
  }

  private _clearPreview(): void {
    this._previewToken++;
    window.clearTimeout(this._previewTimer);
    this._preview = EMPTY_PREVIEW;
    this._lastSelected = null;
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

  private _showActionError(message: string, status = 400): void {
    this._actionError = new ApiError({ status, reason: 'invalid', message });
    this._changed.emit();
  }

  private async _confirmOverwrite(name: string): Promise<boolean> {
    const result = await showDialog({
      title: this._trans.__('Replace file?'),
      body: this._trans.__(
        '%1 already exists in this folder. Replace it?',
        name
      ),
      buttons: [
        Dialog.cancelButton({ label: this._trans.__('Keep') }),
        Dialog.warnButton({ label: this._trans.__('Replace') })
      ]
    });
    return result.button.accept;
  }

  private _api: RayDevAPI;
  private _insertCode?: (code: string) => boolean | Promise<boolean>;
  private _trans: TranslationBundle;
  private _roots: IStorageRoot[] | null = null;
  private _rootsError: ApiError | null = null;
  private _rootsLoading = false;
  private _root: IStorageRoot | null = null;
  private _preview: IPreviewState = EMPTY_PREVIEW;
  private _previewToken = 0;
  private _previewTimer = 0;
  private _lastSelected: string | null = null;
  private _actionError: ApiError | null = null;
  private _changed = new Signal<this, void>(this);
  private _version = 0;
}

export namespace StoragePanel {
  export interface IOptions {
    api: RayDevAPI;
    translator: ITranslator;
    /** Insert code into the active notebook; false when there is none. */
    insertCode?: (code: string) => boolean | Promise<boolean>;
    pageSize?: number;
  }
}

/** Re-renders the view on every change of the panel. */
function StorageRenderer(props: { panel: StoragePanel }): JSX.Element {
  const { panel } = props;
  // Not useState + useEffect: an effect subscribes after the commit, and a
  // change emitted in between (a fast retry) would never re-render the view.
  const subscribe = React.useCallback(
    (onChange: () => void) => {
      panel.changed.connect(onChange);
      return () => void panel.changed.disconnect(onChange);
    },
    [panel]
  );
  React.useSyncExternalStore(subscribe, () => panel.version);
  const state = panel.viewState;
  return (
    <StorageView
      trans={panel.trans}
      {...state}
      rayInfo={path => panel.listing.rayInfo(path)}
      actions={panel.actions}
    />
  );
}
