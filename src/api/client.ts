import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ApiError, BAD_RESPONSE } from './errors';
import type { IClusterSummary } from './types';

/**
 * Root of the extension's routes, relative to the Jupyter server's base URL.
 * This module is the only place in the frontend that knows URLs: panels call
 * methods, never paths.
 */
const API_ROOT = 'ray-dev/api';

/**
 * Typed client of the jupyter-ray-dev server extension.
 *
 * Each endpoint is one small method over `request`, so later endpoints
 * (storage, jobs, runtime environments) slot in without touching callers.
 */
export class RayDevAPI {
  constructor(options: RayDevAPI.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
  }

  /** Base URL, token, XSRF cookie handling and the `fetch` used for requests. */
  readonly serverSettings: ServerConnection.ISettings;

  /** The Ray cluster the server is attached to; rejects with `ApiError`. */
  getCluster(): Promise<IClusterSummary> {
    return this.request<IClusterSummary>('cluster');
  }

  /** The URL of an API route, e.g. `url('cluster')`. */
  url(...path: string[]): string {
    return URLExt.join(this.serverSettings.baseUrl, API_ROOT, ...path);
  }

  /**
   * Send a request to an API route and decode its JSON answer.
   *
   * `ServerConnection.makeRequest` adds the token and XSRF headers, so writes
   * added later only need `init.method` and `init.body`.
   */
  protected async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = this.url(path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (error) {
      throw ApiError.fromNetworkError(error);
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response);
    }
    if (response.status === 204) {
      return undefined as T;
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        status: response.status,
        reason: BAD_RESPONSE,
        message:
          `The Jupyter server answered ${url} with something that is not JSON. ` +
          'A proxy in front of Jupyter may be rewriting the response.'
      });
    }
  }
}

export namespace RayDevAPI {
  export interface IOptions {
    /** Defaults to the page's own server (`ServerConnection.makeSettings()`). */
    serverSettings?: ServerConnection.ISettings;
  }
}
