import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ITranslator } from '@jupyterlab/translation';

import { IRayDevAPI } from '../tokens';
import { RayDevAPI } from './client';

/** The REST client every other plugin of the extension talks to the server through. */
export const apiPlugin: JupyterFrontEndPlugin<IRayDevAPI> = {
  id: 'jupyter-ray-dev:api',
  description: 'The client of the jupyter-ray-dev REST API.',
  autoStart: true,
  provides: IRayDevAPI,
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null
  ): IRayDevAPI =>
    new RayDevAPI({
      serverSettings: app.serviceManager.serverSettings,
      translator: translator ?? undefined
    })
};
