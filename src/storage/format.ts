/** Display strings of the storage panel (pure, jest-tested). */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ApiError, RayFolderKind } from '../api';
import { formatBytes } from '../cluster/format';

/** `1.5 MiB`, '' for folders and unknown sizes. */
export function formatSize(size: number | null | undefined): string {
  return size === null || size === undefined ? '' : formatBytes(size);
}

/** A modification time: time of day when today, else the date. */
export function formatModified(
  ms: number | null | undefined,
  now: Date = new Date()
): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  const date = new Date(ms);
  const sameDay =
    date.getFullYear() === now.getFullYear() &&
    date.getMonth() === now.getMonth() &&
    date.getDate() === now.getDate();
  const pad = (n: number) => String(n).padStart(2, '0');
  if (sameDay) {
    return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The badge text of a Ray Train/Tune folder kind. */
export function rayKindLabel(
  kind: RayFolderKind,
  trans: TranslationBundle
): string {
  switch (kind) {
    case 'tune_experiment':
      return trans.__('experiment');
    case 'tune_trial':
      return trans.__('trial');
    case 'train_run':
      return trans.__('run');
    case 'checkpoint':
      return trans.__('checkpoint');
  }
}

/** A metric or parameter value, short: numbers to 4 significant digits. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    return String(Number(value.toPrecision(4)));
  }
  if (value === null || value === undefined) {
    return '—';
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

/** Flatten nested params (`{a: {b: 1}}` -> `a/b: 1`), for a two-column table. */
export function flattenRecord(
  value: unknown,
  prefix = '',
  out: [string, unknown][] = []
): [string, unknown][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(
      value as Record<string, unknown>
    )) {
      flattenRecord(inner, prefix ? `${prefix}/${key}` : key, out);
    }
  } else if (prefix) {
    out.push([prefix, value]);
  }
  return out;
}

/** What the user should know about an error, beyond the server's message. */
export function errorHint(
  error: ApiError,
  trans: TranslationBundle
): string | null {
  if (error.status === 503) {
    return trans.__(
      'The storage behind this root cannot be reached right now. Check the endpoint and your network, then retry.'
    );
  }
  if (error.status === 403) {
    return trans.__(
      'This root or item is read-only or not accessible to the Jupyter server.'
    );
  }
  if (error.status === 0) {
    return trans.__('The Jupyter server cannot be reached.');
  }
  return null;
}
