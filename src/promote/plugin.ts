/**
 * Wiring of "Promote to prod" into JupyterLab: the command (palette, file
 * browser context menu on folders and notebooks, notebook toolbar, Ray
 * panel), the review dialog and the build progress tab.
 */
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import {
  errorMessage,
  type IPromoteRequest,
  type IPromotionPlan,
  type RayDevAPI
} from '../api';
import { paletteOrMenu, rayIcon } from '../icons';
import { IRayDevAPI, IRaySidebar } from '../tokens';
import { CommandButtonExtension } from '../toolbar';
import { BUILD_BUTTON_CLASS, PromoteReview, syncBuildButton } from './dialog';
import { downloadManifests, PromotionsWidget, reapply } from './history';
import {
  buildButtonState,
  entrypointCandidates,
  folderOf,
  isEntrypoint,
  nameOf
} from './model';
import { PackageResultWidget } from './package';
import { ReviewDialog } from './review-dialog';
import { BuildProgressWidget, saveBlob } from './progress';

export namespace PromoteCommandIDs {
  /** Review, then build or export: `path` arg (a folder or a .py/.ipynb). */
  export const promote = 'ray-dev:promote';
  /** The promotion history: `project` arg to show that project's first. */
  export const history = 'ray-dev:promotions';
  /** On a history row (context menu): apply its manifests again, dry run first. */
  export const reapply = 'ray-dev:promotion-reapply';
  /** On a history row (context menu): save its manifests. */
  export const download = 'ray-dev:promotion-download';
}

const HISTORY_ROW = '.jp-RayDev-historyRow';

export interface IPromoteSetup {
  app: JupyterFrontEnd;
  api: RayDevAPI;
  translator: ITranslator;
  palette: ICommandPalette | null;
  fileBrowser: IDefaultFileBrowser | null;
  /** Put the "Promote to prod" section in the Ray panel. */
  addSection: (widget: Widget) => void;
}

/** The "Promote to prod" section's place in the Ray sidebar: after the jobs. */
const PROMOTE_RANK = 200;

export const promotePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-ray-dev:promote',
  description:
    'Promote a project to prod: a reproducible image and KubeRay manifests, their history.',
  autoStart: true,
  requires: [IRayDevAPI],
  optional: [IRaySidebar, ITranslator, ICommandPalette, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    api: IRayDevAPI,
    sidebar: IRaySidebar | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    fileBrowser: IDefaultFileBrowser | null
  ): void =>
    setupPromote({
      app,
      api,
      translator: translator ?? nullTranslator,
      palette,
      fileBrowser,
      addSection: section =>
        sidebar?.addSection(section, { rank: PROMOTE_RANK })
    })
};

export function setupPromote(options: IPromoteSetup): void {
  const { app, api, translator, palette, fileBrowser } = options;
  const trans = translator.load('jupyter_ray_dev');
  const { commands } = app;

  const target = (args: Record<string, unknown>): string | null => {
    if (typeof args.path === 'string') {
      return args.path;
    }
    if (args.fromBrowser && fileBrowser) {
      const first = fileBrowser.selectedItems().next();
      if (first && !first.done) {
        return first.value.path;
      }
    }
    const widget = app.shell.currentWidget as
      (Widget & { context?: { path?: string } }) | null;
    return widget?.context?.path ?? fileBrowser?.model.path ?? null;
  };

  commands.addCommand(PromoteCommandIDs.promote, {
    ...paletteOrMenu(
      trans.__('Promote to prod (image + KubeRay)…'),
      trans.__('Promote to prod…')
    ),
    caption: trans.__(
      'Build a reproducible image of this project and KubeRay manifests'
    ),
    execute: async args => {
      const path = target(args);
      if (path === null) {
        Notification.warning(trans.__('Open or select a project to promote.'));
        return;
      }
      await promote(app, api, trans, path);
    }
  });

  commands.addCommand(PromoteCommandIDs.history, {
    label: trans.__('Promotion history'),
    caption: trans.__(
      'Builds, exports and packages of "Promote to prod": compare two, re-apply one'
    ),
    execute: args => {
      const project = typeof args.project === 'string' ? args.project : null;
      const content = new PromotionsWidget({ api, trans, project });
      const widget = new MainAreaWidget({ content });
      widget.id = `jupyter-ray-dev-promotions-${Private.nextId++}`;
      widget.title.label = project
        ? trans.__('Promotions: %1', nameOf(project))
        : trans.__('Promotions');
      widget.title.icon = rayIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    }
  });
  palette?.addItem({ command: PromoteCommandIDs.history, category: 'Ray' });

  // the history's rows: the context menu (mouse, or the keyboard's menu key on a focused row)
  const rowId = (): string | null => {
    const node = app.contextMenuHitTest(
      el => el.dataset.promotionId !== undefined
    );
    return node?.dataset.promotionId ?? null;
  };
  commands.addCommand(PromoteCommandIDs.reapply, {
    label: trans.__('Re-apply…'),
    caption: trans.__('Dry run on the cluster, review the diff, then apply'),
    execute: async () => {
      const id = rowId();
      if (id) {
        await reapply(api, trans, id);
      }
    }
  });
  commands.addCommand(PromoteCommandIDs.download, {
    label: trans.__('Download manifests'),
    execute: async () => {
      const id = rowId();
      if (id) {
        await downloadManifests(api, trans, id);
      }
    }
  });
  app.contextMenu.addItem({
    command: PromoteCommandIDs.reapply,
    selector: HISTORY_ROW,
    rank: 1
  });
  app.contextMenu.addItem({
    command: PromoteCommandIDs.download,
    selector: HISTORY_ROW,
    rank: 2
  });
  palette?.addItem({
    command: PromoteCommandIDs.promote,
    category: 'Ray',
    args: { isPalette: true }
  });
  for (const selector of [
    '.jp-DirListing-item[data-isdir="true"]',
    '.jp-DirListing-item[data-file-type="notebook"]'
  ]) {
    app.contextMenu.addItem({
      command: PromoteCommandIDs.promote,
      args: { fromBrowser: true },
      selector,
      rank: 4
    });
  }
  app.docRegistry.addWidgetExtension(
    'Notebook',
    new CommandButtonExtension(commands, {
      command: PromoteCommandIDs.promote,
      name: 'ray-promote',
      rank: 11,
      tooltip: trans.__('Promote to prod…'),
      testId: 'ray-promote-toolbar'
    })
  );

  // The Ray panel: one button acting on the current notebook or browser folder
  const section = new Widget();
  section.addClass('jp-RayDev-promoteSection');
  section.title.label = trans.__('Promote to prod');
  const button = document.createElement('button');
  button.className = 'jp-mod-styled jp-mod-accept';
  button.dataset.testid = 'ray-promote-panel-button';
  button.textContent = trans.__('Promote to prod…');
  button.title = trans.__(
    'The current notebook, or the folder open in the file browser'
  );
  button.onclick = () => void commands.execute(PromoteCommandIDs.promote, {});
  section.node.appendChild(button);
  const history = document.createElement('button');
  history.className = 'jp-mod-styled';
  history.dataset.testid = 'ray-promotions-panel-button';
  history.textContent = trans.__('Promotion history');
  history.onclick = () => void commands.execute(PromoteCommandIDs.history, {});
  section.node.appendChild(history);
  options.addSection(section);
}

/**
 * The project a path means and its entrypoint: a file -> the nearest folder up
 * holding runtime_env.yaml (as for jobs), else its own folder; a folder -> itself,
 * with the scripts and notebooks at its top to choose from.
 */
async function resolveTarget(
  app: JupyterFrontEnd,
  path: string
): Promise<{
  project: string;
  candidates: string[];
  entrypoint: string | null;
}> {
  const contents = app.serviceManager.contents;
  if (isEntrypoint(path)) {
    let project = folderOf(path);
    for (let folder = project; ; folder = folderOf(folder)) {
      try {
        await contents.get(
          folder ? `${folder}/runtime_env.yaml` : 'runtime_env.yaml',
          {
            content: false
          }
        );
        project = folder;
        break;
      } catch {
        // not here: look further up, to the root
      }
      if (!folder) {
        break;
      }
    }
    return { project, candidates: [path], entrypoint: path };
  }
  const model = await contents.get(path, { content: true });
  const items = (model.content ?? []) as { name: string; type: string }[];
  const candidates = entrypointCandidates(path, items);
  return { project: path, candidates, entrypoint: candidates[0] ?? null };
}

async function promote(
  app: JupyterFrontEnd,
  api: RayDevAPI,
  trans: ReturnType<ITranslator['load']>,
  path: string
): Promise<void> {
  const { project, candidates, entrypoint } = await resolveTarget(app, path);
  if (!project) {
    Notification.warning(
      trans.__(
        'Choose a project folder: the Jupyter root itself cannot be promoted.'
      )
    );
    return;
  }
  let plan: IPromotionPlan | null = null;
  let error: string | null = null;
  try {
    plan = await api.planPromotion(project, { entrypoint });
  } catch (reason) {
    error = errorMessage(reason);
  }
  let current: { plan: IPromotionPlan | null; request: IPromoteRequest } = {
    plan,
    request: { entrypoint, variant: 'rayjob' }
  };
  let storageRoot: string | null = null;
  let dialog: Dialog<unknown> | null = null;
  const body = ReactWidget.create(
    React.createElement(PromoteReview, {
      api,
      project,
      candidates,
      initialEntrypoint: entrypoint,
      initialPlan: plan,
      initialError: error,
      trans,
      onPlan: (next, request) => {
        current = { plan: next, request };
        if (dialog) {
          syncBuildButton(dialog.node, buildButtonState(next, null, trans));
        }
      },
      onStorageRoot: root => {
        storageRoot = root;
      }
    })
  );
  const EXPORT = 'export';
  const PACKAGE = 'package';
  const initial = buildButtonState(plan, error, trans);
  dialog = new ReviewDialog({
    title: trans.__('Promote %1 to prod', nameOf(project)),
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.createButton({
        label: trans.__('Export context'),
        actions: [EXPORT],
        displayType: 'default'
      }),
      Dialog.createButton({
        label: trans.__('Upload code to storage (less reproducible)'),
        caption: trans.__(
          'The runtime_env path: a code zip on s3/gs and a RayJob for the stock image. ' +
            'Less reproducible than an image.'
        ),
        actions: [PACKAGE],
        displayType: 'warn'
      }),
      Dialog.okButton({
        label: trans.__('Build and push'),
        className: BUILD_BUTTON_CLASS
      })
    ],
    // Enter must not start a build that cannot run: Cancel is the default then
    defaultButton: initial.disabled ? 0 : 3,
    hasClose: true
  });
  syncBuildButton(dialog.node, initial);
  const result = await dialog.launch();
  const actions = result.button.actions;
  if (
    !result.button.accept &&
    !actions.includes(EXPORT) &&
    !actions.includes(PACKAGE)
  ) {
    return;
  }
  // Export and Upload are accept buttons too: only Build and push needs a buildable plan
  const building =
    result.button.accept &&
    !actions.includes(EXPORT) &&
    !actions.includes(PACKAGE);
  const blocked = buildButtonState(current.plan, null, trans);
  if (building && blocked.disabled) {
    // the plan changed to one that cannot build while the dialog was open
    Notification.warning(blocked.reason ?? '');
    return;
  }
  const request = current.request;
  const openHistory = (): void =>
    void app.commands.execute(PromoteCommandIDs.history, { project });
  if (actions.includes(EXPORT)) {
    try {
      const context = await api.exportPromotionContext(project, request);
      saveBlob(context.blob, context.filename);
      Notification.success(
        trans.__('Build context saved as %1.', context.filename),
        {
          autoClose: 5000,
          actions: [
            { label: trans.__('Promotion history'), callback: openHistory }
          ]
        }
      );
    } catch (reason) {
      Notification.error(errorMessage(reason));
    }
    return;
  }
  if (actions.includes(PACKAGE) && !storageRoot) {
    Notification.warning(
      trans.__(
        'No s3:// or gs:// storage root to upload to: an admin adds one to c.RayDev.storage_roots.'
      )
    );
    return;
  }
  try {
    if (actions.includes(PACKAGE)) {
      // the RayJob of this path runs the stock image: the variant is the image's choice
      const packaged = await api.packagePromotion(project, storageRoot ?? '', {
        entrypoint: request.entrypoint
      });
      const content = new PackageResultWidget({
        api,
        result: packaged,
        trans,
        onHistory: openHistory
      });
      addTab(
        app,
        content,
        packaged.id,
        trans.__('Package: %1', nameOf(project))
      );
    } else {
      const promotion = await api.buildPromotion(project, request);
      const content = new BuildProgressWidget({
        api,
        promotion,
        manifests: current.plan?.manifests ?? '',
        trans,
        onHistory: openHistory
      });
      addTab(
        app,
        content,
        promotion.id,
        trans.__('Promote: %1', nameOf(project))
      );
    }
  } catch (reason) {
    Notification.error(errorMessage(reason));
  }
}

function addTab(
  app: JupyterFrontEnd,
  content: Widget,
  promotionId: string,
  label: string
): void {
  const widget = new MainAreaWidget({ content });
  widget.id = `jupyter-ray-dev-promotion-${promotionId}`;
  widget.title.label = label;
  widget.title.icon = rayIcon;
  widget.title.closable = true;
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
}

namespace Private {
  export let nextId = 0;
}
