/**
 * Wiring of the storage feature into JupyterLab: its left sidebar panel,
 * the palette command, entry commands and their context menu.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  copyIcon,
  deleteIcon,
  downloadIcon,
  editIcon,
  newFolderIcon,
  refreshIcon
} from '@jupyterlab/ui-components';

import type { IStorageEntry, RayDevAPI } from '../api';
import { IRayDevAPI } from '../tokens';
import { storageIcon } from './icon';
import { ENTRY_CLASS, STORAGE_PANEL_ID, StoragePanel } from './panel';

export namespace StorageCommandIDs {
  export const open = 'ray-dev:open-storage';
  export const openEntry = 'ray-dev:storage-open-entry';
  export const download = 'ray-dev:storage-download';
  export const copyUri = 'ray-dev:storage-copy-uri';
  export const insertSnippet = 'ray-dev:storage-insert-snippet';
  export const rename = 'ray-dev:storage-rename';
  export const remove = 'ray-dev:storage-delete';
  export const newFolder = 'ray-dev:storage-new-folder';
  export const refresh = 'ray-dev:storage-refresh';
}

export interface IStorageSetupOptions {
  app: JupyterFrontEnd;
  api: RayDevAPI;
  translator: ITranslator;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
  notebooks: INotebookTracker | null;
}

export const storagePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-ray-dev:storage',
  description:
    'A left panel browsing the storage roots (local/NFS, S3, GCS), with snippets for notebooks.',
  autoStart: true,
  requires: [IRayDevAPI],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    api: IRayDevAPI,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null
  ): void => {
    setupStorage({
      app,
      api,
      translator: translator ?? nullTranslator,
      palette,
      restorer,
      notebooks
    });
  }
};

/**
 * Put `code` in the active notebook: into the active cell when it is an
 * empty code cell, else into a new code cell below it.
 */
export function insertIntoNotebook(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker | null,
  code: string
): boolean {
  const panel = notebooks?.currentWidget;
  if (!panel) {
    return false;
  }
  const notebook = panel.content;
  const active = notebook.activeCell;
  if (
    !active ||
    active.model.type !== 'code' ||
    active.model.sharedModel.getSource().trim() !== ''
  ) {
    NotebookActions.insertBelow(notebook);
  }
  const cell = notebook.activeCell;
  if (!cell) {
    return false;
  }
  cell.model.sharedModel.setSource(code);
  app.shell.activateById(panel.id);
  return true;
}

/** Add the Storage panel (left, after the Ray panel) and its commands. */
export function setupStorage(options: IStorageSetupOptions): StoragePanel {
  const { app, api, translator, palette, restorer, notebooks } = options;
  const trans = translator.load('jupyter_ray_dev');
  const panel = new StoragePanel({
    api,
    translator,
    insertCode: code => insertIntoNotebook(app, notebooks, code)
  });
  // Rank 155: just after the Ray panel (150), before running sessions (200).
  app.shell.add(panel, 'left', { rank: 155, type: 'Ray Storage' });
  restorer?.add(panel, STORAGE_PANEL_ID);

  const { commands } = app;
  /** The entry under the context menu, else the selected one. */
  const target = () =>
    panel.entryFor(
      app.contextMenuHitTest(node => node.classList.contains(ENTRY_CLASS)) ??
        null
    );
  const writable = () => !panel.readOnly;
  // an entry gone from the listing since the menu opened is left alone
  const onTarget =
    (act: (entry: IStorageEntry) => void | Promise<void>) => () => {
      const entry = target();
      if (entry) {
        return act(entry);
      }
    };

  commands.addCommand(StorageCommandIDs.open, {
    label: trans.__('Open Storage'),
    caption: trans.__(
      'Browse the storage roots (local/NFS, S3, GCS) in the left sidebar'
    ),
    icon: args => (args['isPalette'] ? undefined : storageIcon),
    execute: () => {
      app.shell.activateById(panel.id);
    }
  });
  palette?.addItem({
    command: StorageCommandIDs.open,
    category: 'Ray',
    args: { isPalette: true }
  });

  commands.addCommand(StorageCommandIDs.openEntry, {
    label: trans.__('Open'),
    isEnabled: () => target() !== null,
    execute: onTarget(entry => panel.openEntry(entry))
  });
  commands.addCommand(StorageCommandIDs.insertSnippet, {
    label: trans.__('Insert Snippet in Notebook'),
    caption: trans.__(
      'Insert code that reads this item into the active notebook'
    ),
    isEnabled: () => target() !== null,
    execute: onTarget(entry => panel.insertSnippet(entry))
  });
  commands.addCommand(StorageCommandIDs.download, {
    label: trans.__('Download'),
    icon: downloadIcon,
    isEnabled: () => target()?.kind === 'file',
    execute: onTarget(entry => panel.download(entry))
  });
  commands.addCommand(StorageCommandIDs.copyUri, {
    label: trans.__('Copy URI'),
    icon: copyIcon,
    isEnabled: () => target() !== null,
    execute: onTarget(entry => panel.copyUri(entry))
  });
  commands.addCommand(StorageCommandIDs.rename, {
    label: trans.__('Rename…'),
    icon: editIcon,
    isEnabled: () => writable() && target() !== null,
    isVisible: writable,
    execute: onTarget(entry => panel.rename(entry))
  });
  commands.addCommand(StorageCommandIDs.remove, {
    label: trans.__('Delete…'),
    icon: deleteIcon,
    isEnabled: () => writable() && target() !== null,
    isVisible: writable,
    execute: onTarget(entry => panel.remove(entry))
  });
  commands.addCommand(StorageCommandIDs.newFolder, {
    label: trans.__('New Folder…'),
    icon: newFolderIcon,
    isEnabled: writable,
    isVisible: writable,
    execute: () => panel.newFolder()
  });
  commands.addCommand(StorageCommandIDs.refresh, {
    label: trans.__('Refresh'),
    icon: refreshIcon,
    execute: () => panel.refresh()
  });

  const entrySelector = `.${ENTRY_CLASS}`;
  [
    StorageCommandIDs.openEntry,
    StorageCommandIDs.insertSnippet,
    StorageCommandIDs.download,
    StorageCommandIDs.copyUri,
    StorageCommandIDs.rename,
    StorageCommandIDs.remove
  ].forEach((command, i) =>
    app.contextMenu.addItem({ command, selector: entrySelector, rank: i + 1 })
  );
  [StorageCommandIDs.newFolder, StorageCommandIDs.refresh].forEach(
    (command, i) =>
      app.contextMenu.addItem({
        command,
        selector: '.jp-RayDev-storageList',
        rank: 20 + i
      })
  );
  return panel;
}
