/**
 * Pure logic of the Promotions history view: which two entries a comparison
 * means, what can be re-applied, keyboard moves, labels.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';

import type { IPromotion, IPromotionDiff, IPromotionProvenance } from '../api';
import { applicableManifests, nameOf, parseManifests } from './model';

const ENGLISH = nullTranslator.load('jupyter_ray_dev');

/** Select or unselect `id`; at most `max` stay selected, the earliest chosen go first. */
export function toggleSelection(
  selected: string[],
  id: string,
  max = 2
): string[] {
  if (selected.includes(id)) {
    return selected.filter(other => other !== id);
  }
  return [...selected, id].slice(-max);
}

/** The two selected promotions as (older, newer) by creation time, or null. */
export function comparePair(
  selected: string[],
  promotions: IPromotion[]
): { older: IPromotion; newer: IPromotion } | null {
  if (selected.length !== 2) {
    return null;
  }
  const found = selected.map(id => promotions.find(p => p.id === id));
  if (!found[0] || !found[1]) {
    return null;
  }
  const [a, b] = found as [IPromotion, IPromotion];
  return a.created <= b.created
    ? { older: a, newer: b }
    : { older: b, newer: a };
}

/** Why a promotion cannot be re-applied, or null when it can. */
export function reapplyBlocker(
  promotion: IPromotion,
  trans: TranslationBundle
): string | null {
  if (promotion.status === 'building') {
    return trans.__('The build is still running.');
  }
  if (promotion.status === 'failed') {
    return trans.__('The build failed: there is no image to apply.');
  }
  if (promotion.status === 'interrupted') {
    return trans.__(
      'The server stopped during the build: there is no image to apply. Build again.'
    );
  }
  if (promotion.status === 'blocked' || promotion.status === 'pushing') {
    return trans.__(
      'The image is not pushed: its parity check held it back (Push anyway pushes it).'
    );
  }
  return null;
}

/** The KubeRay kinds a promotion's manifests hold, RayJob first; [] when unreadable. */
export function reapplyKinds(manifests: string): string[] {
  try {
    // The kinds only: a parse error is not shown, so its language does not matter.
    return applicableManifests(parseManifests(manifests, ENGLISH)).map(
      c => c.kind
    );
  } catch {
    return [];
  }
}

/** `sha256:0123456789ab` (the digest's first 12 hex digits), or '' when none. */
export function shortDigest(digest: string | null): string {
  if (!digest) {
    return '';
  }
  const [algorithm, hex] = digest.includes(':')
    ? digest.split(':', 2)
    : ['', digest];
  return algorithm ? `${algorithm}:${hex.slice(0, 12)}` : hex.slice(0, 12);
}

/** The file name "Download manifests" saves a promotion under. */
export function manifestsFilename(promotion: IPromotion): string {
  const name = nameOf(promotion.project) || 'project';
  return `${name}-${promotion.id}-manifests.yaml`;
}

/** The row index after a navigation key, or null when the key is not one. */
export function moveFocus(
  index: number,
  key: string,
  length: number
): number | null {
  if (length === 0) {
    return null;
  }
  switch (key) {
    case 'ArrowDown':
      return Math.min(length - 1, index + 1);
    case 'ArrowUp':
      return Math.max(0, index - 1);
    case 'Home':
      return 0;
    case 'End':
      return length - 1;
    default:
      return null;
  }
}

/** How many artifacts changed, and whether anything did. */
export function diffSummary(diff: IPromotionDiff): {
  changed: number;
  total: number;
} {
  return {
    changed: diff.artifacts.filter(a => a.diff !== '').length,
    total: diff.artifacts.length
  };
}

/**
 * A promotion's provenance as the detail pane lists it: the source run, the lock,
 * the parity check, each override (the same facts the CLI and the magic print).
 */
export function provenanceRows(
  provenance: IPromotionProvenance | undefined,
  trans: TranslationBundle
): { label: string; value: string; warn?: boolean }[] {
  if (!provenance) {
    return [];
  }
  const run = provenance.source_run;
  const rows: { label: string; value: string; warn?: boolean }[] = [
    {
      label: trans.__('Source run'),
      value: run
        ? run.time
          ? trans.__(
              '%1 (started %2)',
              run.id,
              new Date(run.time * 1000).toLocaleString()
            )
          : run.id
        : trans.__("None: the pins come from this server's Python")
    }
  ];
  const lines = provenance.lock.requirements ?? [];
  rows.push({
    label: trans.__('Lock'),
    value: trans._n(
      'sha256 %2, %1 pinned line',
      'sha256 %2, %1 pinned lines',
      lines.length,
      provenance.lock.sha256 ?? '?'
    )
  });
  const parity = provenance.parity;
  rows.push({
    label: trans.__('Parity'),
    value: parity
      ? [
          parity.source
            ? trans.__('%1 against %2', parity.status, parity.source)
            : parity.status,
          ...parity.mismatches.map(m => m.message),
          ...(parity.reason ? [parity.reason] : [])
        ].join('; ')
      : trans.__('Not checked'),
    warn: parity !== null && parity.status !== 'passed'
  });
  for (const override of provenance.overrides) {
    rows.push({
      label: trans.__('Override'),
      value: trans.__(
        'Pushed anyway by %1 at %2 although the parity check %3',
        override.user ?? trans.__('an unnamed user'),
        override.at,
        override.parity_status
      ),
      warn: true
    });
  }
  return rows;
}

/** The packages whose pin changed between two promotions, one line each. */
export function lockChangeLines(
  diff: IPromotionDiff,
  trans: TranslationBundle
): string[] {
  return (diff.lock_changes ?? []).map(change =>
    change.from === null
      ? trans.__('%1: added as %2', change.name, change.to ?? '')
      : change.to === null
        ? trans.__('%1: %2 removed', change.name, change.from)
        : trans.__('%1: %2 → %3', change.name, change.from, change.to)
  );
}

/** Where each side's pins came from, when the two promotions differ in that. */
export function sourceRunLine(
  diff: IPromotionDiff,
  trans: TranslationBundle
): string | null {
  const runs = diff.source_runs;
  if (!runs || (runs.from ?? null) === (runs.to ?? null)) {
    return null;
  }
  const server = trans.__("this server's Python");
  return trans.__(
    'Pins from %1, then from %2',
    runs.from ?? server,
    runs.to ?? server
  );
}
