/**
 * Number and byte formatting for the cluster panel.
 *
 * Deliberately locale-independent (no grouping separators): the figures are
 * short, compared with `ray status` output and asserted in tests.
 */

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A byte amount scaled to one binary unit. */
export interface IScaled {
  /** The amount in `unit`, formatted with at most one decimal. */
  value: string;
  unit: (typeof BINARY_UNITS)[number];
}

/**
 * Format an amount of a countable resource. Ray schedules fractional CPUs and
 * GPUs (`num_cpus=0.5`), so keep up to two decimals and drop trailing zeros:
 * `2`, `1.5`, `0.33`.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) {
    return '–';
  }
  const rounded = Number(value.toFixed(2));
  // `Number(-0.001.toFixed(2))` is -0, which prints as "0" but compares oddly.
  return String(rounded === 0 ? 0 : rounded);
}

/** The binary unit that suits `bytes`, so that `1 <= amount < 1024`. */
export function byteUnit(bytes: number): IScaled['unit'] {
  let index = 0;
  let amount = Math.abs(bytes);
  while (amount >= 1024 && index < BINARY_UNITS.length - 1) {
    amount /= 1024;
    index++;
  }
  return BINARY_UNITS[index];
}

/** Express `bytes` in `unit` (default: the unit that suits it). */
export function scaleBytes(
  bytes: number,
  unit: IScaled['unit'] = byteUnit(bytes)
): IScaled {
  if (!Number.isFinite(bytes)) {
    return { value: '–', unit };
  }
  const amount = bytes / 1024 ** BINARY_UNITS.indexOf(unit);
  const rounded = Number(amount.toFixed(1));
  return { value: String(rounded === 0 ? 0 : rounded), unit };
}

/** `8.5 GiB`, `512 MiB`, `0 B`. */
export function formatBytes(bytes: number): string {
  const { value, unit } = scaleBytes(bytes);
  return `${value} ${unit}`;
}

/** A piece of a server message: plain text, or code the server put in backticks. */
export interface IMessagePart {
  text: string;
  code: boolean;
}

/**
 * Split a server message on backticks so commands such as `ray start --head`
 * can be shown as code. An unmatched backtick is kept as plain text.
 */
export function splitCode(message: string): IMessagePart[] {
  const parts: IMessagePart[] = [];
  const pattern = /`([^`]+)`/g;
  let last = 0;
  for (const match of message.matchAll(pattern)) {
    const start = match.index ?? 0;
    if (start > last) {
      parts.push({ text: message.slice(last, start), code: false });
    }
    parts.push({ text: match[1], code: true });
    last = start + match[0].length;
  }
  if (last < message.length) {
    parts.push({ text: message.slice(last), code: false });
  }
  return parts;
}
