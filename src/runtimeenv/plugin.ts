/**
 * Wiring of the runtime_env editor: commands (palette, the file browser's
 * folder context menu, the Ray panel's toolbar), Ctrl/Cmd+S, restore on reload.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  CommandToolbarButton,
  ICommandPalette,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import type { RayDevAPI } from '../api';
import { paletteOrMenu, rayIcon } from '../icons';
import { IRayDevAPI, IRaySidebar } from '../tokens';
import { EDITOR_CLASS, RuntimeEnvEditor } from './editor';
import { NotebookInstallsSection } from './installs';

/** The sidebar section of notebook installs: after the jobs, before promote. */
const INSTALLS_RANK = 150;

export namespace RuntimeEnvCommandIDs {
  /** Open the editor of a project: `project` arg, else the file browser's folder. */
  export const open = 'ray-dev:edit-runtime-env';
  /** Open it for the folder selected in the file browser (its context menu). */
  export const openSelected = 'ray-dev:edit-runtime-env-selected';
  /** Save the current editor (Ctrl/Cmd+S). */
  export const save = 'ray-dev:save-runtime-env';
}

export interface IRuntimeEnvSetup {
  app: JupyterFrontEnd;
  api: RayDevAPI;
  translator: ITranslator;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
  fileBrowser: IDefaultFileBrowser | null;
  editorServices: IEditorServices | null;
}

export const runtimeEnvPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-ray-dev:runtime-env',
  description:
    "The editor of a project's runtime_env.yaml, opened from the Ray sidebar, a folder or the palette.",
  autoStart: true,
  requires: [IRayDevAPI],
  optional: [
    IRaySidebar,
    ITranslator,
    ICommandPalette,
    ILayoutRestorer,
    IDefaultFileBrowser,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    api: IRayDevAPI,
    sidebar: IRaySidebar | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null,
    editorServices: IEditorServices | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyter_ray_dev');
    setupRuntimeEnv({
      app,
      api,
      translator,
      palette,
      restorer,
      fileBrowser,
      editorServices
    });
    sidebar?.addSection(new NotebookInstallsSection({ api, translator }), {
      rank: INSTALLS_RANK
    });
    sidebar?.addToolbarItem(
      'ray-runtime-env',
      new CommandToolbarButton({
        commands: app.commands,
        id: RuntimeEnvCommandIDs.open,
        label: trans.__('Environment')
      })
    );
  }
};

export function setupRuntimeEnv(
  options: IRuntimeEnvSetup
): WidgetTracker<RuntimeEnvEditor> {
  const {
    app,
    api,
    translator,
    palette,
    restorer,
    fileBrowser,
    editorServices
  } = options;
  const trans = translator.load('jupyter_ray_dev');
  const { commands } = app;
  const tracker = new WidgetTracker<RuntimeEnvEditor>({
    namespace: 'jupyter-ray-dev-runtime-env'
  });

  const open = (project: string): RuntimeEnvEditor => {
    const folder = project.replace(/^\/+|\/+$/g, '');
    const existing = tracker.find(w => w.project === folder);
    if (existing) {
      app.shell.activateById(existing.id);
      return existing;
    }
    const widget = new RuntimeEnvEditor({
      api,
      project: folder,
      trans,
      editorServices
    });
    widget.model.changed.connect(() => void tracker.save(widget));
    void tracker.add(widget);
    app.shell.add(widget, 'main');
    app.shell.activateById(widget.id);
    return widget;
  };

  commands.addCommand(RuntimeEnvCommandIDs.open, {
    ...paletteOrMenu(
      trans.__('Ray: Edit the Ray environment (runtime_env) of this folder'),
      trans.__('Ray Environment…')
    ),
    caption: trans.__(
      "Edit the project's runtime_env.yaml: what Ray installs and sets for its jobs"
    ),
    execute: args => {
      const project =
        typeof args['project'] === 'string'
          ? (args['project'] as string)
          : (fileBrowser?.model.path ?? '').replace(/^[^/:]+:/, '');
      return open(project);
    }
  });

  commands.addCommand(RuntimeEnvCommandIDs.openSelected, {
    label: trans.__('Edit Ray Environment…'),
    caption: trans.__("Edit this folder's runtime_env.yaml"),
    icon: rayIcon,
    isVisible: () => selectedFolder(fileBrowser) !== null,
    execute: () => {
      const folder = selectedFolder(fileBrowser);
      return folder === null ? null : open(folder);
    }
  });

  commands.addCommand(RuntimeEnvCommandIDs.save, {
    label: trans.__('Save Ray Environment'),
    isEnabled: () => tracker.currentWidget !== null,
    execute: async () => {
      const widget = tracker.currentWidget;
      if (!widget) {
        return false;
      }
      const ok = await widget.save();
      if (!ok && widget.model.error) {
        Notification.error(widget.model.error, { autoClose: 8000 });
      }
      return ok;
    }
  });
  commands.addKeyBinding({
    command: RuntimeEnvCommandIDs.save,
    keys: ['Accel S'],
    selector: `.${EDITOR_CLASS}`
  });

  palette?.addItem({
    command: RuntimeEnvCommandIDs.open,
    category: 'Ray',
    args: { isPalette: true }
  });
  app.contextMenu.addItem({
    command: RuntimeEnvCommandIDs.openSelected,
    selector: '.jp-DirListing-item[data-isdir="true"]',
    rank: 4
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: RuntimeEnvCommandIDs.open,
      args: widget => ({ project: widget.project }),
      name: widget => widget.project || '/'
    });
  }
  return tracker;
}

function selectedFolder(browser: IDefaultFileBrowser | null): string | null {
  if (!browser) {
    return null;
  }
  const first = browser.selectedItems().next();
  if (!first || first.done || first.value.type !== 'directory') {
    return null;
  }
  return first.value.path;
}
