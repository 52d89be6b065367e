import type { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { apiPlugin } from './api/plugin';
import { clusterPlugin } from './cluster/plugin';
import { dashboardPlugin } from './dashboard/plugin';
import { jobsPlugin } from './jobs/plugin';
import { promotePlugin } from './promote/plugin';
import { runtimeEnvPlugin } from './runtimeenv/plugin';
import { storagePlugin } from './storage/plugin';

export { CommandIDs } from './cluster/plugin';
export * from './tokens';

/** One plugin per capability; they reach each other through the tokens. */
const plugins: JupyterFrontEndPlugin<any>[] = [
  apiPlugin,
  dashboardPlugin,
  clusterPlugin,
  jobsPlugin,
  promotePlugin,
  storagePlugin,
  runtimeEnvPlugin
];

export default plugins;
