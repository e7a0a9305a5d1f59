import fc from 'fast-check';
import { TriadError } from '../../../src/shared/index.js';
import { createGraph, defaultNodeNames, type Edge, type Graph } from '../../../src/consensus/index.js';

/**
 * Random weighted graphs of up to `maxNodes` nodes. `connected` adds a random spanning tree first; otherwise the
 * density is random too, so sparse draws come out disconnected (and edgeless ones are n isolated nodes).
 */
export function weightedGraph(options: { connected: boolean; maxNodes?: number; minNodes?: number }) {
  const { connected, maxNodes = 10, minNodes = 1 } = options;
  return fc.integer({ min: minNodes, max: maxNodes }).chain((n) => {
    const pairs = (n * (n - 1)) / 2;
    return fc
      .record({
        density: connected ? fc.double({ min: 0, max: 1, noNaN: true }) : fc.double({ min: 0, max: 0.5, noNaN: true }),
        draws: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: pairs, maxLength: pairs }),
        weights: fc.array(fc.double({ min: 0.1, max: 10, noNaN: true }), { minLength: pairs, maxLength: pairs }),
        parents: fc.array(fc.nat(), { minLength: n, maxLength: n }),
      })
      .map(({ density, draws, weights, parents }) => buildGraph(n, connected, density, draws, weights, parents));
  });
}

function buildGraph(
  n: number,
  connected: boolean,
  density: number,
  draws: number[],
  weights: number[],
  parents: number[],
): Graph {
  const nodes = defaultNodeNames(n);
  const tree = new Set<string>();
  if (connected) for (let i = 1; i < n; i++) tree.add(`${(parents[i] ?? 0) % i},${i}`);
  const edges: Edge[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, k++) {
      if (tree.has(`${i},${j}`) || (draws[k] ?? 1) < density) edges.push([nodes[i]!, nodes[j]!, weights[k] ?? 1]);
    }
  }
  return createGraph(nodes, edges);
}

/** Readings like the cluster's measurements: bounded, finite, one per node. */
export function readings(n: number) {
  return fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: n, maxLength: n });
}

export function graphWithReadings(options: { connected: boolean; maxNodes?: number; minNodes?: number }) {
  return weightedGraph(options).chain((graph) => readings(graph.nodes.length).map((x) => ({ graph, x })));
}

/** The TriadError `fn` throws, so a test can assert its stable code as well as its message. */
export function errorOf(fn: () => unknown): TriadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TriadError) return err;
    throw err;
  }
  throw new Error('expected a TriadError, but nothing was thrown');
}
