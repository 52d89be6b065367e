/**
 * The API client against a stubbed `fetch`.
 *
 * jest has no Jupyter server, so `fetch` is replaced through the server
 * settings (the hook JupyterLab provides for this). The real server, with a
 * real Ray head, is exercised by the Python tests and the Galata UI tests.
 */
import { ApiError, parseErrorBody, RayDevAPI } from '../api';
import { cluster, UNREACHABLE_BODY } from './fixtures';
import { apiOver, json } from './stub-fetch';

type Responder = (
  url: string,
  init: RequestInit
) => Response | Promise<Response>;

function apiWith(respond: Responder): { api: RayDevAPI; calls: string[] } {
  const calls: string[] = [];
  const fetch = async (
    input: RequestInfo | URL,
    init?: RequestInit
  ): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    calls.push(url);
    return respond(url, init ?? {});
  };
  return { api: apiOver(fetch), calls };
}

describe('RayDevAPI', () => {
  it('builds URLs under the server base URL', () => {
    const { api } = apiWith(() => json({}));
    expect(api.url('cluster')).toBe(
      'http://localhost:8888/user/me/ray-dev/api/cluster'
    );
  });

  it('returns the cluster summary', async () => {
    const { api, calls } = apiWith(() => json(cluster()));
    await expect(api.getCluster()).resolves.toEqual(cluster());
    expect(calls).toHaveLength(1);
    expect(new URL(calls[0]).pathname).toBe('/user/me/ray-dev/api/cluster');
  });

  it("turns a 503 into an ApiError carrying the server's message", async () => {
    const { api } = apiWith(() => json(UNREACHABLE_BODY, 503));
    const error: ApiError = await api.getCluster().then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: ApiError) => e
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(503);
    expect(error.reason).toBe('ray_unreachable');
    expect(error.message).toBe(UNREACHABLE_BODY.message);
    expect(error.details).toEqual({ address: 'http://127.0.0.1:8265' });
  });

  it('explains an HTML 404: the server extension is missing', async () => {
    const { api } = apiWith(
      () =>
        new Response('<html><title>404: Not Found</title></html>', {
          status: 404,
          statusText: 'Not Found'
        })
    );
    await expect(api.getCluster()).rejects.toMatchObject({
      status: 404,
      reason: 'http_404',
      message: expect.stringContaining('jupyter_ray_dev server extension')
    });
  });

  it('falls back to the status when an error body is not JSON', async () => {
    const { api } = apiWith(
      () =>
        new Response('Bad Gateway', { status: 502, statusText: 'Bad Gateway' })
    );
    await expect(api.getCluster()).rejects.toMatchObject({
      status: 502,
      reason: 'http_502',
      message: expect.stringContaining('502 Bad Gateway')
    });
  });

  it('reports a network failure with status 0', async () => {
    const { api } = apiWith(() => {
      throw new TypeError('Failed to fetch');
    });
    await expect(api.getCluster()).rejects.toMatchObject({
      status: 0,
      reason: 'network_error',
      message: 'Cannot reach the Jupyter server: Failed to fetch'
    });
  });

  it('rejects a 200 answer that is not JSON', async () => {
    const { api } = apiWith(() => new Response('<html>login</html>'));
    await expect(api.getCluster()).rejects.toMatchObject({
      status: 200,
      reason: 'bad_response'
    });
  });
});

describe('parseErrorBody', () => {
  it('accepts Jupyter server errors whose reason is null', () => {
    expect(parseErrorBody('{"message": "Forbidden", "reason": null}')).toEqual({
      message: 'Forbidden',
      reason: 'error'
    });
  });

  it.each(['', 'null', '[]', '"text"', '{"reason": "x"}', '{"message": ""}'])(
    'rejects %p',
    text => {
      expect(parseErrorBody(text)).toBeNull();
    }
  );
});
