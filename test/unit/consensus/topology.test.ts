import { describe, expect, test } from 'vitest';
import {
  componentsOf,
  createGraph,
  defaultNodeNames,
  graphFromCluster,
  graphFromTopology,
  parseTopologySpec,
  standardShapeOf,
} from '../../../src/consensus/index.js';
import type { ClusterConfig } from '../../../src/config/index.js';
import { errorOf } from './helpers.js';

function cluster(topology: ClusterConfig['topology'], names: string[], edges: ClusterConfig['edges'] = []) {
  return {
    topology,
    edges,
    instances: names.map((name, i) => ({ name, host: '127.0.0.1', grpcPort: 50051 + i, httpPort: 9464 + i })),
  };
}

describe('graphFromTopology', () => {
  test('names nodes alpha…epsilon, then n6, n7, …', () => {
    expect(defaultNodeNames(7)).toEqual(['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'n6', 'n7']);
    expect(graphFromTopology('K3')).toEqual({
      nodes: ['alpha', 'beta', 'gamma'],
      edges: [
        ['alpha', 'beta', 1],
        ['alpha', 'gamma', 1],
        ['beta', 'gamma', 1],
      ],
    });
  });

  test.each([
    ['K7', 7, 21],
    ['ring:5', 5, 5],
    ['star:5', 5, 4],
    ['path:4', 4, 3],
    ['K1', 1, 0],
  ])('%s has %i nodes and %i edges', (spec, nodes, edges) => {
    const graph = graphFromTopology(spec);
    expect(graph.nodes).toHaveLength(nodes);
    expect(graph.edges).toHaveLength(edges);
  });

  test('star:N is one hub joined to N−1 leaves', () => {
    expect(graphFromTopology('star:4', ['hub', 'a', 'b', 'c']).edges).toEqual([
      ['hub', 'a', 1],
      ['hub', 'b', 1],
      ['hub', 'c', 1],
    ]);
  });

  test('a malformed spec is a USAGE error listing the accepted forms', () => {
    const error = errorOf(() => parseTopologySpec('K'));
    expect(error.code).toBe('USAGE');
    expect(error.message).toMatchInlineSnapshot(
      `"[USAGE] unknown topology "K": expected K<n> (complete, e.g. K5), ring:<n> (cycle, n ≥ 3), star:<n> (one hub and n−1 leaves, n ≥ 2) or path:<n>"`,
    );
  });

  test.each([
    ['ring:2', /ring:<n> needs 3 ≤ n ≤ 500 \(a cycle needs three nodes; use path:2 or K2\)/],
    ['star:1', /star:<n> needs 2 ≤ n ≤ 500/],
    ['K0', /K<n> needs 1 ≤ n ≤ 500/],
    ['K501', /K<n> needs 1 ≤ n ≤ 500/],
    ['ring:', /unknown topology "ring:"/],
    ['mesh:4', /unknown topology "mesh:4"/],
  ])('%s is refused', (spec, message) => {
    expect(() => graphFromTopology(spec)).toThrow(message);
  });

  test('names must match the node count', () => {
    expect(() => graphFromTopology('K3', ['a', 'b'])).toThrow(/topology "K3" has 3 nodes but 2 names were given/);
  });
});

describe('graphFromCluster', () => {
  test.each([
    ['complete', 3],
    ['ring', 4],
    ['star', 2],
    ['path', 2],
  ] as const)('%s over the instances, first instance as the star hub', (kind, edges) => {
    const graph = graphFromCluster(
      cluster(kind, ['alpha', 'beta', 'gamma', 'delta'].slice(0, kind === 'ring' ? 4 : 3)),
    );
    expect(graph.edges).toHaveLength(edges);
    if (kind === 'star') expect(graph.edges.every(([hub]) => hub === 'alpha')).toBe(true);
  });

  test('a ring of two instances is their one edge, not a doubled one', () => {
    expect(graphFromCluster(cluster('ring', ['alpha', 'beta'])).edges).toEqual([['alpha', 'beta', 1]]);
  });

  test('custom uses the configured weighted edges', () => {
    const graph = graphFromCluster(cluster('custom', ['alpha', 'beta', 'gamma'], [['alpha', 'gamma', 2.5]]));
    expect(graph.edges).toEqual([['alpha', 'gamma', 2.5]]);
    expect(componentsOf(graph)).toEqual([['alpha', 'gamma'], ['beta']]);
  });
});

describe('createGraph', () => {
  test('lists every problem with its path', () => {
    const error = errorOf(() =>
      createGraph(
        ['alpha', 'beta', 'alpha'],
        [
          ['alpha', 'delta', 1],
          ['beta', 'beta', 1],
          ['alpha', 'beta', Number.NaN],
          ['beta', 'alpha', 2],
        ],
      ),
    );
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toMatchInlineSnapshot(`
      "[INPUT_INVALID] 5 problems:
        nodes[2]: duplicate node "alpha" (first at nodes[0])
        edges[0]: unknown node "delta" (nodes: alpha, beta)
        edges[1]: self-loop on "beta" (an edge must join two different nodes)
        edges[2][2]: expected a finite weight > 0 and ≤ 1e12, received NaN
        edges[3]: duplicate edge beta–alpha (first at edges[2]; edges are undirected)"
    `);
  });

  test('an empty graph is refused', () => {
    expect(() => createGraph([], [])).toThrow(/nodes: the graph has no nodes/);
  });
});

describe('standardShapeOf recognises structure, not names or edge order', () => {
  test.each([
    [
      ['a', 'b', 'c', 'd'],
      [
        ['c', 'a'],
        ['d', 'b'],
        ['a', 'd'],
        ['b', 'c'],
      ],
      'ring',
    ],
    [
      ['a', 'b', 'c', 'd'],
      [
        ['c', 'b'],
        ['d', 'b'],
        ['a', 'b'],
      ],
      'star',
    ],
    [
      ['a', 'b', 'c', 'd'],
      [
        ['c', 'a'],
        ['d', 'b'],
        ['a', 'd'],
      ],
      'path',
    ],
    [
      ['a', 'b', 'c'],
      [
        ['c', 'a'],
        ['b', 'c'],
        ['a', 'b'],
      ],
      'complete',
    ],
    [
      ['a', 'b', 'c', 'd', 'e'],
      [
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'a'],
        ['c', 'd'],
        ['d', 'e'],
      ],
      undefined,
    ],
    [
      ['a', 'b', 'c', 'd'],
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      undefined,
    ],
  ] as const)('%j %j → %s', (nodes, edges, shape) => {
    const graph = createGraph(
      nodes,
      edges.map(([u, v]) => [u, v, 1.5] as const),
    );
    expect(standardShapeOf(graph)?.shape).toBe(shape);
  });

  test('different weights are not a standard shape', () => {
    expect(
      standardShapeOf(
        createGraph(
          ['a', 'b', 'c'],
          [
            ['a', 'b', 1],
            ['b', 'c', 2],
          ],
        ),
      ),
    ).toBeUndefined();
  });
});
