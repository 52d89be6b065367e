/**
 * The API client over a stubbed `fetch`, shared by the client specs: jest has
 * no Jupyter server, so `fetch` is replaced through the server settings (the
 * hook JupyterLab provides for this).
 */
import { ServerConnection } from '@jupyterlab/services';

import { RayDevAPI } from '../api';

export function apiOver(
  fetch: typeof window.fetch,
  settings: Partial<ServerConnection.ISettings> = {}
): RayDevAPI {
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/user/me/',
    fetch,
    ...settings
  });
  return new RayDevAPI({ serverSettings });
}

/** One request as the stub saw it, its body already read. */
export interface ICall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
}

/** A client whose every request is recorded in `calls` and answered by `respond`. */
export function apiWith(
  respond: (call: ICall) => Response,
  settings: Partial<ServerConnection.ISettings> = {}
): { api: RayDevAPI; calls: ICall[] } {
  const calls: ICall[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request =
      input instanceof Request ? input : new Request(String(input), init);
    const url = new URL(request.url);
    const call: ICall = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body: request.body ? await request.text() : ''
    };
    calls.push(call);
    return respond(call);
  };
  return { api: apiOver(fetch, settings), calls };
}

/** A JSON reply; a 204 carries no body, as `Response` refuses one there. */
export function json(body: unknown, status = 200): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}
