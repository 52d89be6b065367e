/**
 * Pure logic behind the cluster panel: which resources to show and in which
 * order, how much of each is used, how nodes are listed. No DOM, no I/O.
 */
import type {
  IClusterSummary,
  IRayNode,
  IResourceTotal,
  Resources
} from '../api';
import { byteUnit, formatNumber, scaleBytes } from './format';

/** Resources shown first, in this order; the rest follow alphabetically. */
export const WELL_KNOWN_RESOURCES = [
  'CPU',
  'GPU',
  'memory',
  'object_store_memory'
] as const;

/** Resources Ray measures in bytes. */
const BYTE_RESOURCES = new Set(['memory', 'object_store_memory']);

/**
 * Resources Ray creates for its own bookkeeping, which say nothing to the user:
 * - `node:<ip>` and `node:__internal_head__`: one per node, amount 1;
 * - `accelerator_type:<type>`: a marker of the GPU model, amount 1;
 * - placement-group resources (`CPU_group_<pg id>`,
 *   `CPU_group_0_<pg id>`, `bundle_group_<pg id>`): one set per placement
 *   group, so Ray Tune and Train runs would flood the list.
 */
export function isInternalResource(name: string): boolean {
  return (
    name.startsWith('node:') ||
    name.startsWith('accelerator_type:') ||
    /_group_(?:\d+_)?[0-9a-f]{32,}$/.test(name)
  );
}

export function isByteResource(name: string): boolean {
  return BYTE_RESOURCES.has(name);
}

/**
 * The resources to display: CPU, GPU, memory, object store memory (those
 * present), then custom resources alphabetically; Ray's internal ones hidden.
 */
export function orderResources(names: Iterable<string>): string[] {
  const visible = new Set([...names].filter(name => !isInternalResource(name)));
  const known: string[] = WELL_KNOWN_RESOURCES.filter(name =>
    visible.has(name)
  );
  const custom = [...visible]
    .filter(name => !known.includes(name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [...known, ...custom];
}

/** Used share of a resource in percent, clamped to [0, 100]; 0 when total is 0. */
export function percentUsed(used: number, total: number): number {
  if (!(total > 0) || !Number.isFinite(used)) {
    return 0;
  }
  return Math.min(100, Math.max(0, (used / total) * 100));
}

/**
 * Used amount of a resource. `available` can briefly exceed `total` or go
 * negative while Ray reconciles its view, so the result is clamped to
 * [0, total].
 */
export function usedAmount(total: number, available: number): number {
  return Math.min(total, Math.max(0, total - available));
}

/** A resource ready to display: amounts formatted in a common unit. */
export interface IResourceUsage {
  name: string;
  /** Raw amounts, e.g. for `aria-valuenow` or tests. */
  total: number;
  used: number;
  percent: number;
  /** Formatted amounts; bytes share the unit that suits the total. */
  usedText: string;
  totalText: string;
  /** `GiB`, `MiB`... for byte resources, `''` for counts. */
  unit: string;
}

/** Describe one resource's usage; `available` undefined means unknown (0 used). */
export function resourceUsage(
  name: string,
  total: number,
  available: number | undefined
): IResourceUsage {
  const used = available === undefined ? 0 : usedAmount(total, available);
  if (isByteResource(name)) {
    // "0.5 / 8 GiB" reads better than "512 MiB / 8 GiB" in a narrow sidebar.
    const unit = byteUnit(total);
    return {
      name,
      total,
      used,
      percent: percentUsed(used, total),
      usedText: scaleBytes(used, unit).value,
      totalText: scaleBytes(total, unit).value,
      unit
    };
  }
  return {
    name,
    total,
    used,
    percent: percentUsed(used, total),
    usedText: formatNumber(used),
    totalText: formatNumber(total),
    unit: ''
  };
}

/** Cluster-wide usage of every displayed resource, in display order. */
export function clusterResources(
  totals: IClusterSummary['totals']
): IResourceUsage[] {
  return orderResources(Object.keys(totals)).map(name => {
    const { total, available }: IResourceTotal = totals[name];
    return resourceUsage(name, total, available);
  });
}

/** Resources summarised on each node row: compute and memory, when present. */
const NODE_SUMMARY_RESOURCES = ['CPU', 'GPU', 'memory'] as const;

/**
 * A node's CPU, GPU and memory (skipping absent or zero amounts, so CPU-only
 * nodes do not show "GPU 0"). Usage is unknown for dead nodes and nodes that
 * have not reported yet: then `used` is 0 and `known` false.
 */
export function nodeResources(
  node: IRayNode
): Array<IResourceUsage & { known: boolean }> {
  const total: Resources = node.resources_total ?? {};
  const available = node.resources_available;
  return NODE_SUMMARY_RESOURCES.filter(name => (total[name] ?? 0) > 0).map(
    name => ({
      ...resourceUsage(name, total[name], available?.[name] ?? undefined),
      known: !!available && node.state === 'ALIVE'
    })
  );
}

const STATE_ORDER: Record<string, number> = { ALIVE: 0, UNKNOWN: 1, DEAD: 2 };

/**
 * Nodes in display order: the head first, then alive before unknown before
 * dead, then by IP (numeric-aware, so 10.0.0.9 precedes 10.0.0.10) and id.
 * Returns a new array.
 */
export function sortNodes(nodes: readonly IRayNode[]): IRayNode[] {
  return [...nodes].sort((a, b) => {
    if (a.is_head !== b.is_head) {
      return a.is_head ? -1 : 1;
    }
    const byState = (STATE_ORDER[a.state] ?? 1) - (STATE_ORDER[b.state] ?? 1);
    if (byState !== 0) {
      return byState;
    }
    const byAddress = (a.node_ip ?? '').localeCompare(b.node_ip ?? '', 'en', {
      numeric: true
    });
    return byAddress !== 0 ? byAddress : a.node_id.localeCompare(b.node_id);
  });
}
