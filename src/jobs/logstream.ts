import { ISignal, Signal } from '@lumino/signaling';

import type { JobStatus, LogStreamMessage } from '../api';

/** The part of the browser's WebSocket the stream uses (tests pass a fake). */
export interface IWebSocketLike {
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  close(code?: number, reason?: string): void;
}

/** What the log viewer shows about the job, from the stream's messages. */
export interface ILogStreamState {
  status: JobStatus | null;
  message: string | null;
  errorType: string | null;
  /** The socket is open and following. */
  connected: boolean;
  /** The server sent `end` (or a final error): no more lines will come. */
  done: boolean;
  /** Why following stopped or is retrying, for the user. */
  error: string | null;
}

/** Waits between reconnects: fast at first, then up to half a minute. */
export const RECONNECT_DELAYS = [500, 1000, 2000, 5000, 10000, 30000];

/**
 * One job's live log over the server's WebSocket.
 *
 * Keeps every line once, in order (lines are numbered `n` from 0 by the
 * server). When the socket drops before `end`, it reconnects with
 * `from=<next line number>`, so nothing is lost or repeated; a line that
 * arrives twice anyway is ignored, and a gap makes it reconnect from the
 * missing line.
 */
export class JobLogStream {
  constructor(options: JobLogStream.IOptions) {
    this.jobId = options.jobId;
    this._connect = options.connect;
    this._delays = options.reconnectDelays ?? RECONNECT_DELAYS;
    if (options.auto ?? true) {
      this.start();
    }
  }

  readonly jobId: string;

  /** Every line received so far, index = line number. */
  get lines(): readonly string[] {
    return this._lines;
  }

  get state(): ILogStreamState {
    return this._state;
  }

  /** Emits the index of the first new line when lines arrive. */
  get linesAdded(): ISignal<this, number> {
    return this._linesAdded;
  }

  /** Emits when status, connection or error change. */
  get stateChanged(): ISignal<this, ILogStreamState> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Open the socket (only needed with `auto: false`). */
  start(): void {
    if (this._isDisposed || this._socket || this._state.done) {
      return;
    }
    this._clearTimer();
    const socket = this._connect(this._lines.length);
    this._socket = socket;
    socket.onopen = () => {
      if (socket === this._socket) {
        this._update({ connected: true, error: null });
      }
    };
    socket.onmessage = event => {
      if (socket === this._socket) {
        this._onMessage(event.data);
      }
    };
    socket.onerror = () => {
      // `onclose` follows and decides what to do.
    };
    socket.onclose = () => {
      if (socket === this._socket) {
        this._socket = null;
        this._onClose();
      }
    };
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._clearTimer();
    const socket = this._socket;
    this._socket = null;
    socket?.close();
    Signal.clearData(this);
  }

  private _onMessage(data: unknown): void {
    let message: LogStreamMessage;
    try {
      message = JSON.parse(String(data));
    } catch {
      return;
    }
    this._attempt = 0;
    switch (message.type) {
      case 'lines': {
        const expected = this._lines.length;
        if (message.n > expected) {
          // A gap: start again from the first missing line.
          this._restart();
          return;
        }
        // Lines below `expected` repeat what a reconnect already showed.
        const fresh = message.lines.slice(expected - message.n);
        if (fresh.length === 0) {
          return;
        }
        this._lines.push(...fresh);
        this._queueLines(expected);
        return;
      }
      case 'status':
        this._update({
          status: message.status,
          message: message.message,
          errorType: message.error_type
        });
        return;
      case 'end':
        this._flushLines();
        this._update({
          status: message.status,
          message: message.message,
          errorType: message.error_type,
          done: true,
          connected: false
        });
        this._close();
        return;
      case 'error':
        this._flushLines();
        if (message.code === 503 || message.code >= 500) {
          // Ray unreachable: keep the lines, retry with backoff.
          this._update({ error: message.message });
          this._close();
          this._scheduleReconnect();
        } else {
          this._update({
            error: message.message,
            done: true,
            connected: false
          });
          this._close();
        }
        return;
    }
  }

  private _onClose(): void {
    this._flushLines();
    if (this._isDisposed || this._state.done) {
      return;
    }
    this._update({ connected: false });
    this._scheduleReconnect();
  }

  private _scheduleReconnect(): void {
    if (this._isDisposed || this._state.done || this._timer !== null) {
      return;
    }
    const delay =
      this._delays[Math.min(this._attempt, this._delays.length - 1)];
    this._attempt++;
    this._timer = setTimeout(() => {
      this._timer = null;
      this.start();
    }, delay);
  }

  private _restart(): void {
    this._close();
    this.start();
  }

  private _close(): void {
    const socket = this._socket;
    this._socket = null;
    socket?.close();
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  /** Coalesce a burst of lines into one signal per task. */
  private _queueLines(from: number): void {
    if (this._pendingFrom === null) {
      this._pendingFrom = from;
      queueMicrotask(() => this._flushLines());
    }
  }

  private _flushLines(): void {
    if (this._pendingFrom === null || this._isDisposed) {
      return;
    }
    const from = this._pendingFrom;
    this._pendingFrom = null;
    this._linesAdded.emit(from);
  }

  private _update(change: Partial<ILogStreamState>): void {
    if (this._isDisposed) {
      return;
    }
    this._state = { ...this._state, ...change };
    this._stateChanged.emit(this._state);
  }

  private _attempt = 0;
  private _connect: (from: number) => IWebSocketLike;
  private _delays: readonly number[];
  private _isDisposed = false;
  private _lines: string[] = [];
  private _linesAdded = new Signal<this, number>(this);
  private _pendingFrom: number | null = null;
  private _socket: IWebSocketLike | null = null;
  private _state: ILogStreamState = {
    status: null,
    message: null,
    errorType: null,
    connected: false,
    done: false,
    error: null
  };
  private _stateChanged = new Signal<this, ILogStreamState>(this);
  private _timer: ReturnType<typeof setTimeout> | null = null;
}

export namespace JobLogStream {
  export interface IOptions {
    jobId: string;
    /** Open the socket from line `from`, e.g. `api.connectJobLogs(id, from)`. */
    connect: (from: number) => IWebSocketLike;
    reconnectDelays?: readonly number[];
    /** Connect on construction (default true). */
    auto?: boolean;
  }
}
