import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { IRayDevAPI } from '../tokens';
import { RayDevAPI } from './client';

/** The REST client every other plugin of the extension talks to the server through. */
export const apiPlugin: JupyterFrontEndPlugin<IRayDevAPI> = {
  id: 'jupyter-ray-dev:api',
  description: 'The client of the jupyter-ray-dev REST API.',
  autoStart: true,
  provides: IRayDevAPI,
  activate: (app: JupyterFrontEnd): IRayDevAPI =>
    new RayDevAPI({ serverSettings: app.serviceManager.serverSettings })
};
