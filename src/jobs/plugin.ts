/**
 * Wiring of the jobs feature into JupyterLab: commands, the file browser's
 * context menu, toolbar buttons in notebooks and Python editors, the log
 * viewer tabs (restored on reload) and the Jobs section of the sidebar.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';

import {
  DashboardPages,
  type IJob,
  type ISubmittedJob,
  type RayDevAPI
} from '../api';
import { paletteOrMenu, rayIcon } from '../icons';
import { IRayDashboard, IRayDevAPI, IRayJobs, IRaySidebar } from '../tokens';
import { CommandButtonExtension } from '../toolbar';
import { runJobDialog, type IEnvironmentSummary } from './dialog';
import { JobLogWidget } from './logviewer';
import {
  baseName,
  isRunnableFile,
  projectCandidates,
  runtimeEnvKeys
} from './model';
import { JobsPanel } from './panel';

export namespace JobCommandIDs {
  /** Run a file as a Ray job: `path` arg, else the current document. */
  export const runJob = 'ray-dev:run-job';
  /** Run the file selected in the file browser (its context menu). */
  export const runSelected = 'ray-dev:run-selected-file';
  /** Open the live log of a job: `jobId` arg. */
  export const openLogs = 'ray-dev:open-job-logs';
}

/** File browser items the context menu offers "Run as Ray job…" on. */
export const RUNNABLE_SELECTORS = [
  '.jp-DirListing-item[data-file-type="python"]',
  '.jp-DirListing-item[data-file-type="notebook"]'
];

export interface IJobsSetup {
  app: JupyterFrontEnd;
  api: RayDevAPI;
  translator: ITranslator;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
  fileBrowser: IDefaultFileBrowser | null;
  /** Put the Jobs section in the sidebar. */
  addSection: (panel: JobsPanel) => void;
  /** The Ray dashboard, for each job's page in it (none: no such button). */
  dashboard?: IRayDashboard | null;
}

/** The Jobs section's place in the Ray sidebar: after the cluster. */
const JOBS_RANK = 100;

export const jobsPlugin: JupyterFrontEndPlugin<IRayJobs> = {
  id: 'jupyter-ray-dev:jobs',
  description:
    'Run .py and .ipynb files as Ray jobs, list them in the Ray sidebar, follow their logs.',
  autoStart: true,
  requires: [IRayDevAPI, IRaySidebar],
  optional: [
    ITranslator,
    ICommandPalette,
    ILayoutRestorer,
    IDefaultFileBrowser,
    IRayDashboard
  ],
  provides: IRayJobs,
  activate: (
    app: JupyterFrontEnd,
    api: IRayDevAPI,
    sidebar: IRaySidebar,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null,
    dashboard: IRayDashboard | null
  ): IRayJobs =>
    setupJobs({
      app,
      api,
      translator: translator ?? nullTranslator,
      palette,
      restorer,
      fileBrowser,
      addSection: section => sidebar.addSection(section, { rank: JOBS_RANK }),
      dashboard
    })
};

/** Set up the jobs feature. */
export function setupJobs(options: IJobsSetup): IRayJobs {
  const { app, api, translator, palette, restorer, fileBrowser } = options;
  const trans = translator.load('jupyter_ray_dev');
  const { commands } = app;

  const tracker = new WidgetTracker<JobLogWidget>({
    namespace: 'jupyter-ray-dev-job-logs'
  });

  const openFile = (path: string): void => {
    void commands.execute('docmanager:open', { path });
  };
  const openLogs = (jobId: string): void => {
    void commands.execute(JobCommandIDs.openLogs, { jobId });
  };

  const panel = new JobsPanel({
    api,
    translator,
    openFile,
    openLogs,
    openDashboard: options.dashboard
      ? jobId => options.dashboard?.open(DashboardPages.job(jobId))
      : undefined
  });
  options.addSection(panel);

  commands.addCommand(JobCommandIDs.openLogs, {
    label: trans.__('Show Ray Job Log'),
    caption: trans.__('Open the live log of a Ray job'),
    execute: args => {
      const jobId = String(args['jobId'] ?? '');
      if (!jobId) {
        return;
      }
      const existing = tracker.find(widget => widget.jobId === jobId);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const known = panel.model.state.jobs?.find(
        j => j.submission_id === jobId
      );
      const widget = new JobLogWidget({
        api,
        jobId,
        trans,
        label: labelOf(known, jobId),
        stop: id => {
          const job = panel.model.state.jobs?.find(j => j.submission_id === id);
          void panel.stop(job ?? stub(id));
        },
        onDone: () => void panel.model.refresh()
      });
      void tracker.add(widget);
      app.shell.add(widget, 'main', { mode: 'split-right' });
      app.shell.activateById(widget.id);
      return widget;
    }
  });

  const submitted = (job: ISubmittedJob): void => {
    panel.model.upsert(job);
    void panel.model.refresh();
    openLogs(job.submission_id);
    for (const warning of job.warnings ?? []) {
      Notification.warning(warning.message, { autoClose: 8000 });
    }
  };

  const run = async (path: string): Promise<ISubmittedJob | null> => {
    const job = await runJobDialog({
      api,
      file: path,
      trans,
      environment: () => environmentOf(app, api, path)
    });
    if (job) {
      submitted(job);
    }
    return job;
  };

  commands.addCommand(JobCommandIDs.runJob, {
    ...paletteOrMenu(
      trans.__('Ray: Run as Ray job…'),
      trans.__('Run as Ray job…')
    ),
    caption: trans.__(
      'Run this .py or .ipynb file as a Ray job on the cluster'
    ),
    isEnabled: args =>
      isRunnableFile((args['path'] as string) ?? currentPath(app)),
    execute: args => {
      const path = (args['path'] as string) ?? currentPath(app);
      if (!isRunnableFile(path)) {
        return null;
      }
      return run(path!);
    }
  });

  commands.addCommand(JobCommandIDs.runSelected, {
    label: trans.__('Run as Ray job…'),
    caption: trans.__('Run the selected file as a Ray job on the cluster'),
    icon: rayIcon,
    isVisible: () => isRunnableFile(selectedPath(fileBrowser)),
    execute: () => {
      const path = selectedPath(fileBrowser);
      return isRunnableFile(path) ? run(path!) : null;
    }
  });

  palette?.addItem({
    command: JobCommandIDs.runJob,
    category: 'Ray',
    args: { isPalette: true }
  });
  for (const selector of RUNNABLE_SELECTORS) {
    app.contextMenu.addItem({
      command: JobCommandIDs.runSelected,
      selector,
      rank: 3
    });
  }

  const extension = new CommandButtonExtension(commands, {
    command: JobCommandIDs.runJob,
    name: 'ray-run-job',
    rank: 10,
    tooltip: trans.__('Run as Ray job…'),
    testId: 'ray-run-toolbar',
    icon: rayIcon,
    accepts: isRunnableFile
  });
  app.docRegistry.addWidgetExtension('Notebook', extension);
  app.docRegistry.addWidgetExtension('Editor', extension);

  if (restorer) {
    void restorer.restore(tracker, {
      command: JobCommandIDs.openLogs,
      args: widget => ({ jobId: widget.jobId }),
      name: widget => widget.jobId
    });
  }

  return { model: panel.model, run, openLogs };
}

/** The path of the current document, if the current widget is one. */
function currentPath(app: JupyterFrontEnd): string | null {
  const widget = app.shell.currentWidget as
    (Widget & { context?: { path?: string } }) | null;
  return widget?.context?.path ?? null;
}

function selectedPath(browser: IDefaultFileBrowser | null): string | null {
  if (!browser) {
    return null;
  }
  const first = browser.selectedItems().next();
  return first && !first.done ? first.value.path : null;
}

function labelOf(job: IJob | undefined, jobId: string): string {
  return job?.file ? `${baseName(job.file)} · ${jobId}` : jobId;
}

function stub(jobId: string): IJob {
  return {
    submission_id: jobId,
    known_to_ray: true,
    status: 'RUNNING',
    message: null,
    error_type: null,
    error_summary: null,
    entrypoint: null,
    start_time: null,
    end_time: null,
    duration: null,
    metadata: {},
    launched_here: false,
    project: null,
    file: null,
    user: null,
    created: null,
    settings: null,
    can_rerun: false
  };
}

/**
 * What the run dialog shows about the environment: the nearest
 * runtime_env.yaml up from the file (the server picks the same one) through
 * the Jupyter contents API, and the cluster's free resources.
 */
export async function environmentOf(
  app: JupyterFrontEnd,
  api: RayDevAPI,
  file: string
): Promise<IEnvironmentSummary> {
  const contents = app.serviceManager.contents;
  let project: string | null = null;
  let runtimeEnvPath: string | null = null;
  let keys: string[] = [];
  for (const folder of projectCandidates(file)) {
    const path = folder ? `${folder}/runtime_env.yaml` : 'runtime_env.yaml';
    try {
      const model = await contents.get(path, { content: true, format: 'text' });
      project = folder;
      runtimeEnvPath = path;
      keys = runtimeEnvKeys(String(model.content ?? ''));
      break;
    } catch {
      // Not in this folder: look further up.
    }
  }
  if (project === null) {
    const candidates = projectCandidates(file);
    project = candidates[0];
  }
  let cluster: string | null = null;
  try {
    const summary = await api.getCluster();
    cluster = ['CPU', 'GPU']
      .filter(name => summary.totals[name])
      .map(
        name =>
          `${name} ${Number(summary.totals[name].available.toFixed(2))}/${Number(
            summary.totals[name].total.toFixed(2)
          )}`
      )
      .join(' · ');
  } catch {
    cluster = null;
  }
  return { project, runtimeEnvPath, runtimeEnvKeys: keys, cluster };
}
