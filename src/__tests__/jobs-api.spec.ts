/** The jobs methods of the API client against a stubbed `fetch`. */
import { ServerConnection } from '@jupyterlab/services';

import { ApiError, RayDevAPI } from '../api';
import { job } from './jobs-fixtures';

function apiWith(
  respond: (url: string, init: RequestInit) => Response,
  extra: Partial<ServerConnection.ISettings> = {}
): {
  api: RayDevAPI;
  calls: Array<{ url: string; method: string; body: any }>;
} {
  const calls: Array<{ url: string; method: string; body: any }> = [];
  const fetch = async (
    input: RequestInfo | URL,
    init?: RequestInit
  ): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const method =
      (input instanceof Request ? input.method : init?.method) ?? 'GET';
    const body = input instanceof Request ? await input.text() : init?.body;
    calls.push({
      url,
      method,
      body: body ? JSON.parse(String(body)) : undefined
    });
    return respond(url, init ?? {});
  };
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/user/me/',
    wsUrl: 'ws://localhost:8888/user/me/',
    fetch,
    ...extra
  });
  return { api: new RayDevAPI({ serverSettings }), calls };
}

const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

describe('RayDevAPI jobs', () => {
  it('lists jobs with filters in the query', async () => {
    const { api, calls } = apiWith(() => json({ jobs: [job()] }));
    const jobs = await api.listJobs({
      status: ['RUNNING', 'PENDING'],
      project: 'a b'
    });
    expect(jobs).toHaveLength(1);
    const url = new URL(calls[0].url);
    expect(url.pathname).toBe('/user/me/ray-dev/api/jobs');
    expect(url.searchParams.get('status')).toBe('RUNNING,PENDING');
    expect(url.searchParams.get('project')).toBe('a b');
  });

  it('submits, stops, re-runs and deletes', async () => {
    const { api, calls } = apiWith(() =>
      calls[calls.length - 1].method === 'DELETE'
        ? new Response(null, { status: 204 })
        : json({ ...job(), warnings: [] }, 201)
    );
    await api.submitJob({
      file: 'p/t.py',
      args: '--x 1',
      resources: { num_cpus: 1 }
    });
    await api.stopJob('raysubmit_abc');
    await api.rerunJob('raysubmit_abc');
    await expect(api.deleteJob('raysubmit_abc')).resolves.toBeUndefined();
    expect(calls.map(c => [c.method, new URL(c.url).pathname])).toEqual([
      ['POST', '/user/me/ray-dev/api/jobs'],
      ['POST', '/user/me/ray-dev/api/jobs/raysubmit_abc/stop'],
      ['POST', '/user/me/ray-dev/api/jobs/raysubmit_abc/rerun'],
      ['DELETE', '/user/me/ray-dev/api/jobs/raysubmit_abc']
    ]);
    expect(calls[0].body).toEqual({
      file: 'p/t.py',
      args: '--x 1',
      resources: { num_cpus: 1 }
    });
  });

  it('reads the log as text and errors as ApiError', async () => {
    const { api } = apiWith(url =>
      url.includes('/logs')
        ? new Response('a\nb\n', {
            status: 200,
            headers: { 'Content-Type': 'text/plain' }
          })
        : json({ message: 'No Ray job nope.', reason: 'not_found' }, 404)
    );
    await expect(api.getJobLogs('x')).resolves.toBe('a\nb\n');
    const error = await api.getJob('nope').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(404);
    expect(error.message).toBe('No Ray job nope.');
  });

  it('builds the WebSocket URL from wsUrl, with the token when asked', () => {
    const { api } = apiWith(() => json({}), {
      token: 's3cret',
      appendToken: true
    });
    expect(api.jobLogStreamUrl('raysubmit_1', 5)).toBe(
      'ws://localhost:8888/user/me/ray-dev/api/jobs/raysubmit_1/logs/stream?from=5&token=s3cret'
    );
    const plain = apiWith(() => json({}), {
      token: '',
      appendToken: false
    }).api;
    expect(plain.jobLogStreamUrl('a/b')).toBe(
      'ws://localhost:8888/user/me/ray-dev/api/jobs/a%2Fb/logs/stream'
    );
  });
});
