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
import * as React from 'react';

import type { IStorageEntry, RayDevAPI } from '../api';
import { type IStorageActions, StorageView } from './components';
import { StorageModel } from './model';
import type { ISnippet } from './snippets';
import { storageIcon } from './icon';

/** The panel's id, used by the shell, the restorer and commands. */
export const STORAGE_PANEL_ID = 'jupyter-ray-dev:storage';

/** Class of one entry row: the context menu's selector. */
export const ENTRY_CLASS = 'jp-RayDev-storageEntry';

/**
 * The panel renders its `StorageModel`; what needs the user (name dialogs,
 * confirmations, the clipboard, a browser download) happens here.
 */
export class StoragePanel extends ReactWidget {
  constructor(options: StoragePanel.IOptions) {
    super();
    this.id = STORAGE_PANEL_ID;
    this.addClass('jp-RayDev-storagePanel');
    this._insertCode = options.insertCode;
    this._trans = options.translator.load('jupyter_ray_dev');
    this.title.icon = storageIcon;
    this.title.caption = this._trans.__('Ray storage');
    this.model = new StorageModel({
      api: options.api,
      pageSize: options.pageSize,
      translator: options.translator
    });
  }

  readonly model: StorageModel;

  /** Whether changes are refused on the current root. */
  get readOnly(): boolean {
    return this.model.readOnly;
  }

  get trans(): TranslationBundle {
    return this._trans;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  /** Reload the roots and the folder on screen. */
  refresh(): Promise<void> {
    return this.model.refresh();
  }

  /** Open a row: enter a folder, preview a file right away. */
  openEntry(entry: IStorageEntry): void {
    this.model.openEntry(entry);
  }

  /** The entry of a row element (context menu), else the selection. */
  entryFor(node?: HTMLElement | null): IStorageEntry | null {
    const row = node?.closest<HTMLElement>(`.${ENTRY_CLASS}`);
    const index = row?.dataset.index;
    if (index !== undefined) {
      return this.model.listing.state.entries[Number(index)] ?? null;
    }
    return this.model.listing.selectedEntry;
  }

  copyUri(entry: IStorageEntry): void {
    Clipboard.copyToSystem(this.model.uri(entry));
    Notification.info(this._trans.__('Copied %1', this.model.uri(entry)), {
      autoClose: 2000
    });
  }

  /** Start a browser download of a file (the server streams it). */
  download(entry: IStorageEntry): void {
    const url = this.model.downloadUrl(entry);
    if (url === null) {
      return;
    }
    const link = document.createElement('a');
    link.href = url;
    link.download = entry.name;
    link.rel = 'noopener';
    link.style.display = 'none';
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  /** Put code reading `entry` into the active notebook (else the clipboard). */
  async insertSnippet(entry: IStorageEntry, snippet?: ISnippet): Promise<void> {
    const chosen = snippet ?? (await this.model.defaultSnippet(entry));
    if (!chosen || !this.model.root) {
      return;
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
    if (this.model.readOnly) {
      return;
    }
    const result = await InputDialog.getText({
      title: this._trans.__('New folder'),
      label: this._trans.__(
        'Name of the new folder in %1',
        this.model.uri({ path: this.model.listing.state.path })
      ),
      placeholder: this._trans.__('folder name'),
      okLabel: this._trans.__('Create')
    });
    const name = result.button.accept ? (result.value ?? '').trim() : '';
    if (name) {
      await this.model.makeFolder(name);
    }
  }

  /** Ask for a new name and rename `entry` in its folder. */
  async rename(entry: IStorageEntry): Promise<void> {
    if (this.model.readOnly) {
      return;
    }
    const result = await InputDialog.getText({
      title: this._trans.__('Rename'),
      label: this._trans.__('New name of %1', entry.name),
      text: entry.name,
      okLabel: this._trans.__('Rename')
    });
    const name = result.button.accept ? (result.value ?? '').trim() : '';
    if (name && name !== entry.name) {
      await this.model.rename(entry, name);
    }
  }

  /** Confirm, then delete `entry` (a folder with everything in it). */
  async remove(entry: IStorageEntry): Promise<void> {
    if (this.model.readOnly) {
      return;
    }
    const isDir = entry.kind === 'directory';
    const uri = this.model.uri(entry);
    const result = await showDialog({
      title: isDir
        ? this._trans.__('Delete folder')
        : this._trans.__('Delete file'),
      body: isDir
        ? this._trans.__(
            'Delete the folder %1 and everything in it? This cannot be undone.',
            uri
          )
        : this._trans.__('Delete %1? This cannot be undone.', uri),
      buttons: [
        Dialog.cancelButton({ label: this._trans.__('Cancel') }),
        Dialog.warnButton({ label: this._trans.__('Delete') })
      ]
    });
    if (result.button.accept) {
      await this.model.remove(entry);
    }
  }

  /** Upload files into the folder on screen, then show them. */
  async uploadFiles(files: File[]): Promise<void> {
    const root = this.model.root;
    if (!root) {
      return;
    }
    if (root.read_only) {
      this.model.showActionError(
        this._trans.__('The storage root "%1" is read-only.', root.name),
        403
      );
      return;
    }
    await this.model.upload(files, name => this._confirmOverwrite(name));
  }

  readonly actions: IStorageActions = {
    selectRoot: name => void this.model.openRoot(name),
    navigate: path => void this.model.navigate(path),
    select: index => this.model.listing.select(index),
    openIndex: index => {
      const entry = this.model.listing.state.entries[index];
      if (entry) {
        this.model.listing.select(index);
        this.model.openEntry(entry);
      }
    },
    goUp: () => void this.model.goUp(),
    refresh: () => void this.model.refresh(),
    retry: () => void this.model.retry(),
    newFolder: () => void this.newFolder(),
    uploadFiles: files => void this.uploadFiles(files),
    cancelUpload: id => this.model.uploads.cancel(id),
    clearUploads: () => this.model.uploads.clearFinished(),
    dismissError: () => this.model.dismissError(),
    download: entry => this.download(entry),
    copyUri: entry => this.copyUri(entry),
    insertSnippet: (entry, snippet) => void this.insertSnippet(entry, snippet),
    copyText: text => this.copyText(text),
    closePreview: () => this.model.closePreview(),
    snippets: entry => this.model.snippets(entry),
    ensureLoaded: index => this.model.listing.ensureLoaded(index),
    removeSelected: () => {
      const entry = this.model.listing.selectedEntry;
      if (entry) {
        void this.remove(entry);
      }
    },
    renameSelected: () => {
      const entry = this.model.listing.selectedEntry;
      if (entry) {
        void this.rename(entry);
      }
    }
  };

  /** The roots are fetched the first time the panel is on screen. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.loadOnce();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this.model.loadOnce();
    }
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this.node.querySelector<HTMLElement>('.jp-RayDev-storageList')?.focus();
  }

  protected render(): JSX.Element {
    return <StorageRenderer panel={this} />;
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

  private _insertCode?: (code: string) => boolean | Promise<boolean>;
  private _trans: TranslationBundle;
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
  const { model } = panel;
  // Not useState + useEffect: an effect subscribes after the commit, and a
  // change emitted in between (a fast retry) would never re-render the view.
  const subscribe = React.useCallback(
    (onChange: () => void) => {
      model.changed.connect(onChange);
      return () => void model.changed.disconnect(onChange);
    },
    [model]
  );
  React.useSyncExternalStore(subscribe, () => model.version);
  const state = model.state;
  return (
    <StorageView
      trans={panel.trans}
      {...state}
      rayInfo={path => model.listing.rayInfo(path)}
      actions={panel.actions}
    />
  );
}
