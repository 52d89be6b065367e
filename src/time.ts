/**
 * Times and durations as the panels write them (pure, jest-tested): one place,
 * so a run's time reads the same in the jobs panel, the promote review and the
 * promotion history.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

/**
 * Seconds since the epoch as the server's messages write them: UTC to the
 * minute (`2026-12-04 13:40 UTC`), so a time the review formats and one a
 * server warning names compare at a glance.
 */
export function formatTime(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** `0.4s`, `12s`, `3m 05s`, `2h 03m`, `3d 4h` (in English); `—` when unknown. */
export function formatDuration(
  seconds: number | null | undefined,
  trans: TranslationBundle
): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '—';
  }
  // Units alone, not "%1s": gettext tools take "%1s" for a Python format string.
  const sec = trans._p('duration', 's');
  const min = trans._p('duration', 'm');
  const hr = trans._p('duration', 'h');
  const day = trans._p('duration', 'd');
  const s = Math.max(0, seconds);
  if (s < 10) {
    return `${Number(s.toFixed(1))}${sec}`;
  }
  const total = Math.floor(s);
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (total < 60) {
    return `${total}${sec}`;
  }
  const minutes = Math.floor(total / 60);
  if (minutes < 60) {
    return `${minutes}${min} ${pad(total % 60)}${sec}`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours}${hr} ${pad(minutes % 60)}${min}`;
  }
  return `${Math.floor(hours / 24)}${day} ${hours % 24}${hr}`;
}
