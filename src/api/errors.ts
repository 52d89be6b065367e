import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';

import type { IErrorBody } from './types';

/** English, for callers that have no translator (tests, early failures). */
const ENGLISH = nullTranslator.load('jupyter_ray_dev');

/**
 * Why a request failed when the server did not say: the browser could not
 * reach the Jupyter server at all, or the server answered something that is
 * not the extension's JSON.
 */
export const NETWORK_ERROR = 'network_error';
export const BAD_RESPONSE = 'bad_response';

/**
 * A failed call to the jupyter-ray-dev server extension.
 *
 * `message` is meant for the user as is: the server writes messages a person
 * can act on (in English), and the fallbacks below try to do the same in the
 * user's language.
 */
export class ApiError extends Error {
  constructor(options: ApiError.IOptions) {
    super(options.message);
    this.name = 'ApiError';
    this.status = options.status;
    this.reason = options.reason;
    this.details = options.details ?? {};
  }

  /** HTTP status; 0 when no response arrived (network failure). */
  readonly status: number;

  /** Stable machine key (`ray_unreachable`, `not_found`, `network_error`...). */
  readonly reason: string;

  /** Extra fields of the error body, e.g. `address` for `ray_unreachable`. */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * Build the error for a non-2xx response, preferring the server's own JSON
   * body `{message, reason, ...}` over generic text.
   */
  static async fromResponse(
    response: Response,
    trans: TranslationBundle = ENGLISH
  ): Promise<ApiError> {
    let text = '';
    try {
      text = await response.text();
    } catch {
      // The body is unreadable (aborted stream): the status alone must do.
    }
    const body = parseErrorBody(text);
    if (body) {
      const { message, reason, ...details } = body;
      return new ApiError({
        status: response.status,
        reason,
        message,
        details
      });
    }
    return new ApiError({
      status: response.status,
      reason: `http_${response.status}`,
      message: fallbackMessage(response, trans)
    });
  }

  /** Wrap a failure that happened before any response (DNS, refused, offline). */
  static fromNetworkError(
    error: unknown,
    trans: TranslationBundle = ENGLISH
  ): ApiError {
    return new ApiError({
      status: 0,
      reason: NETWORK_ERROR,
      message: trans.__('Cannot reach the Jupyter server: %1', describe(error))
    });
  }
}

export namespace ApiError {
  export interface IOptions {
    status: number;
    reason: string;
    message: string;
    details?: Record<string, unknown>;
  }
}

/**
 * Any failure as an `ApiError`: the client's own errors as they are; anything
 * else (a thrown `Error`, a string) keeps its message under `reason`, or reads
 * "Cannot reach the Jupyter server: ..." when `reason` is `NETWORK_ERROR`
 * (a fetch that never answered).
 */
export function toApiError(
  error: unknown,
  reason = 'error',
  trans: TranslationBundle = ENGLISH
): ApiError {
  if (error instanceof ApiError) {
    return error;
  }
  if (reason === NETWORK_ERROR) {
    return ApiError.fromNetworkError(error, trans);
  }
  return new ApiError({ status: 0, reason, message: describe(error) });
}

/** What a failure says, for a person: the message of `toApiError`. */
export function errorMessage(error: unknown): string {
  return toApiError(error).message;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The extension's error body, or `null` when the text is not one (an HTML
 * error page from a proxy, Tornado's default 404 page, an empty body).
 * Jupyter server's own API errors carry `message` and, often, `reason: null`.
 */
export function parseErrorBody(text: string): IErrorBody | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return null;
  }
  const record = data as Record<string, unknown>;
  if (typeof record.message !== 'string' || record.message === '') {
    return null;
  }
  return {
    ...record,
    message: record.message,
    reason: typeof record.reason === 'string' ? record.reason : 'error'
  };
}

function fallbackMessage(response: Response, trans: TranslationBundle): string {
  const status = `${response.status}${
    response.statusText ? ` ${response.statusText}` : ''
  }`;
  const path = pathOf(response.url) ?? trans.__('the request');
  if (response.status === 404) {
    // Tornado's HTML 404 means no handler is registered for the route.
    return trans.__(
      'The Jupyter server answered %1 for %2. Is the jupyter_ray_dev server extension installed and enabled? Check `jupyter server extension list`.',
      status,
      path
    );
  }
  return trans.__('The Jupyter server answered %1 for %2.', status, path);
}

function pathOf(url: string): string | null {
  if (!url) {
    return null;
  }
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
