import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { type ApiError, NETWORK_ERROR, toApiError } from './api';

/** Polling defaults; `interval` is overridden by the `refreshInterval` setting. */
export const DEFAULT_REFRESH_INTERVAL = 5000;
/** Longest wait between attempts while the server or Ray stays unreachable. */
export const MAX_BACKOFF_INTERVAL = 60000;

/**
 * Waits before a panel tries again by itself when the Jupyter server or a
 * storage endpoint did not answer (a server restart, a 503): fast at first,
 * then every half a minute.
 */
export const RECONNECT_DELAYS = [1000, 2000, 5000, 10000, 30000];

/** A failure that passes by itself: no answer at all, or a 502/503/504. */
export function isUnreachable(error: ApiError | null): boolean {
  return error !== null && [0, 502, 503, 504].includes(error.status);
}

/** What every polled section knows about its last answer. */
export interface IPolledState {
  /** The last failure; `null` once an answer arrives again. */
  readonly error: ApiError | null;
  /** True until the first answer, good or bad. */
  readonly loading: boolean;
  /** When the last answer (good or bad) arrived. */
  readonly updated: Date | null;
}

/** What a view needs of a polled model (see `PolledSection`). */
export interface IPolledModel<S extends IPolledState> {
  readonly changed: ISignal<unknown, S>;
  readonly state: S;
  /** Milliseconds between refreshes while visible (the `refreshInterval` setting). */
  interval: number;
  refresh(): Promise<void>;
  dispose(): void;
}

/**
 * Keeps one server resource fresh while someone can see it.
 *
 * A Lumino `Poll` calls `fetch` every `interval` ms. Failures are kept in
 * `state.error` and make the poll back off up to `MAX_BACKOFF_INTERVAL`; the
 * first success clears the error, so a section recovers on its own. The poll
 * stands by while `isVisible` says the section is hidden or the browser tab is
 * in the background. Subclasses say how an answer or a failure changes their
 * state (`succeeded`, `failed`).
 */
export abstract class PollingMonitor<
  T,
  S extends IPolledState
> implements IPolledModel<S> {
  constructor(name: string, initial: S, options: PollingMonitor.IOptions<T>) {
    this._fetch = options.fetch;
    this._state = initial;
    const isVisible = options.isVisible ?? (() => true);
    this._poll = new Poll<T, ApiError>({
      name,
      factory: () => this._tick(),
      frequency: frequencyFor(options.interval ?? DEFAULT_REFRESH_INTERVAL),
      // Returning true stands by; 'when-hidden' also stands by in a background tab.
      standby: () => !isVisible() || 'when-hidden',
      auto: options.auto ?? true
    });
  }

  /** Emits after every answer, good or bad, and every local change. */
  get changed(): ISignal<this, S> {
    return this._changed;
  }

  get state(): S {
    return this._state;
  }

  /** Milliseconds between refreshes while the section is visible. */
  get interval(): number {
    return this._poll.frequency.interval;
  }
  set interval(value: number) {
    this._poll.frequency = frequencyFor(value);
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /**
   * Fetch now instead of waiting for the next tick (refresh button, section
   * shown, after an action). Resolves when the refresh is scheduled.
   */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** Start polling (only needed with `auto: false`). */
  start(): Promise<void> {
    return this._poll.start();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** The state change an answer makes. */
  protected abstract succeeded(value: T): Partial<S>;

  /** The state change a failure makes (what of the last answer to keep). */
  protected abstract failed(error: ApiError): Partial<S>;

  /** Merge `next` into the state and tell the view. */
  protected set(next: Partial<S>): void {
    if (this.isDisposed) {
      return;
    }
    this._state = { ...this._state, ...next };
    this._changed.emit(this._state);
  }

  private async _tick(): Promise<T> {
    try {
      const value = await this._fetch();
      this.set({
        ...this.succeeded(value),
        error: null,
        loading: false,
        updated: new Date()
      });
      return value;
    } catch (reason) {
      const error = toApiError(reason, NETWORK_ERROR);
      this.set({
        ...this.failed(error),
        error,
        loading: false,
        updated: new Date()
      });
      // Rethrow so that the poll backs off while the failure lasts.
      throw error;
    }
  }

  private _changed = new Signal<this, S>(this);
  private _fetch: () => Promise<T>;
  private _poll: Poll<T, ApiError>;
  private _state: S;
}

export namespace PollingMonitor {
  export interface IOptions<T> {
    /** Fetch the resource, rejecting with `ApiError`. */
    fetch: () => Promise<T>;
    /** Milliseconds between refreshes; default `DEFAULT_REFRESH_INTERVAL`. */
    interval?: number;
    /** Whether the section is on screen; polling stands by when it is not. */
    isVisible?: () => boolean;
    /** Start polling on construction (default true). */
    auto?: boolean;
  }
}

/** Poll frequency for a refresh interval: back off on failure up to a minute. */
export function frequencyFor(interval: number): {
  interval: number;
  backoff: boolean;
  max: number;
} {
  const safe = Math.max(1000, Math.round(interval) || DEFAULT_REFRESH_INTERVAL);
  // `Poll` rejects an interval above `max`: a slow refresh widens the ceiling.
  return {
    interval: safe,
    backoff: true,
    max: Math.max(safe, MAX_BACKOFF_INTERVAL)
  };
}
