import {
  clusterResources,
  isInternalResource,
  nodeResources,
  orderResources,
  percentUsed,
  resourceUsage,
  sortNodes,
  usedAmount
} from '../cluster/model';
import { cluster, node } from './fixtures';

const GiB = 1024 ** 3;

describe('orderResources', () => {
  it('puts CPU, GPU, memory and object store first, then custom ones alphabetically', () => {
    expect(
      orderResources([
        'zeta',
        'object_store_memory',
        'Alpha',
        'memory',
        'GPU',
        'beta',
        'CPU'
      ])
    ).toEqual([
      'CPU',
      'GPU',
      'memory',
      'object_store_memory',
      'Alpha',
      'beta',
      'zeta'
    ]);
  });

  it("skips Ray's internal resources", () => {
    expect(
      orderResources([
        'CPU',
        'node:10.0.0.1',
        'node:__internal_head__',
        'accelerator_type:A100',
        'CPU_group_0_c5e1b7a6a3e14b0f9d2e8c7b6a5f4e3d2c1b',
        'bundle_group_c5e1b7a6a3e14b0f9d2e8c7b6a5f4e3d2c1b',
        'my_group_name'
      ])
    ).toEqual(['CPU', 'my_group_name']);
  });

  it('lists only the well-known resources that are present', () => {
    expect(orderResources(['memory', 'CPU'])).toEqual(['CPU', 'memory']);
    expect(orderResources([])).toEqual([]);
  });

  it('recognises internal names', () => {
    expect(isInternalResource('node:127.0.0.1')).toBe(true);
    expect(isInternalResource('accelerator_type:T4')).toBe(true);
    expect(isInternalResource('GPU')).toBe(false);
  });
});

describe('usage arithmetic', () => {
  it('computes used as total minus available, clamped to [0, total]', () => {
    expect(usedAmount(2, 1.5)).toBe(0.5);
    expect(usedAmount(2, 3)).toBe(0);
    expect(usedAmount(2, -1)).toBe(2);
  });

  it('computes a percentage clamped to [0, 100]', () => {
    expect(percentUsed(1, 4)).toBe(25);
    expect(percentUsed(5, 4)).toBe(100);
    expect(percentUsed(-1, 4)).toBe(0);
    expect(percentUsed(1, 0)).toBe(0);
    expect(percentUsed(NaN, 4)).toBe(0);
  });
});

describe('resourceUsage', () => {
  it('formats counts with fractional CPUs', () => {
    expect(resourceUsage('CPU', 2, 1.5)).toEqual({
      name: 'CPU',
      total: 2,
      used: 0.5,
      percent: 25,
      usedText: '0.5',
      totalText: '2',
      unit: ''
    });
  });

  it('formats bytes in the unit of the total', () => {
    const usage = resourceUsage('memory', 8 * GiB, 7.5 * GiB);
    expect([usage.usedText, usage.totalText, usage.unit]).toEqual([
      '0.5',
      '8',
      'GiB'
    ]);
  });

  it('treats unknown availability as nothing used', () => {
    expect(resourceUsage('CPU', 4, undefined).used).toBe(0);
  });
});

describe('clusterResources', () => {
  it('lists every visible total in display order', () => {
    const rows = clusterResources(cluster().totals);
    expect(rows.map(row => row.name)).toEqual([
      'CPU',
      'GPU',
      'memory',
      'object_store_memory',
      'my_custom'
    ]);
    expect(rows[1]).toMatchObject({ used: 1, percent: 100 });
  });
});

describe('nodeResources', () => {
  it('summarises CPU, GPU and memory, skipping absent ones', () => {
    const rows = nodeResources(node());
    expect(rows.map(row => row.name)).toEqual(['CPU', 'memory']);
    expect(rows[0]).toMatchObject({
      usedText: '0',
      totalText: '4',
      known: true
    });
  });

  it('marks usage unknown on dead nodes', () => {
    const rows = nodeResources(
      node({ state: 'DEAD', resources_available: null })
    );
    expect(rows.every(row => !row.known)).toBe(true);
  });
});

describe('sortNodes', () => {
  it('lists the head first, alive before dead, then by IP', () => {
    const nodes = [
      node({ node_id: 'd', node_ip: '10.0.0.2', state: 'DEAD' }),
      node({ node_id: 'w10', node_ip: '10.0.0.10' }),
      node({ node_id: 'u', node_ip: '10.0.0.3', state: 'UNKNOWN' }),
      node({ node_id: 'h', node_ip: '10.0.0.99', is_head: true }),
      node({ node_id: 'w9', node_ip: '10.0.0.9' })
    ];
    expect(sortNodes(nodes).map(n => n.node_id)).toEqual([
      'h',
      'w9',
      'w10',
      'u',
      'd'
    ]);
  });

  it('does not reorder its input', () => {
    const nodes = [
      node({ node_id: 'b' }),
      node({ node_id: 'a', is_head: true })
    ];
    sortNodes(nodes);
    expect(nodes.map(n => n.node_id)).toEqual(['b', 'a']);
  });
});
