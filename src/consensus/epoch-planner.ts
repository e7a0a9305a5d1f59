import type { ClusterConfig } from '../config/index.js';
import type { EpochGraph } from './coordinator.js';
import { convergenceFactor, predictedRounds, spectrum } from './laplacian.js';
import { resilientStep } from './resilience.js';
import { componentsOf, graphFromCluster, type Graph } from './topology.js';

/** A zero eigenvalue as a solver returns it: anything this small is a component, not a connection. */
const ZERO = 1e-9;

/** The metrics label of a cluster's topology: K3, K5, C6 (ring), S4 (star), P3 (path) or custom. */
export function topologyLabel(cluster: Pick<ClusterConfig, 'topology' | 'instances'>): string {
  const n = cluster.instances.length;
  const prefix = { complete: 'K', ring: 'C', star: 'S', path: 'P', custom: '' }[cluster.topology];
  return prefix ? `${prefix}${n}` : 'custom';
}

/**
 * Plans the graph of one epoch: the configured topology restricted to the members that can take part, its step
 * a = 2/(λ₂ + λ_max) and the predicted rounds to reach ε. When losing a node splits the graph, λ₂ is 0 and the step
 * uses the smallest non-zero eigenvalue instead: each piece still agrees internally (and the error against the
 * whole cluster shows the split). Plans are cached per member set: the spectrum costs more than the epoch itself.
 */
export function createEpochPlanner(
  cluster: Pick<ClusterConfig, 'topology' | 'edges' | 'instances'>,
  epsilon: number,
  resilience: { f: number; rounds: number } = { f: 0, rounds: 0 },
): (participants: readonly string[]) => EpochGraph {
  const full = graphFromCluster(cluster);
  const cache = new Map<string, EpochGraph>();
  return (participants) => {
    const key = [...participants].sort().join(',');
    const cached = cache.get(key);
    if (cached) return cached;
    const graph = induced(full, participants);
    const plan = planFor(graph, epsilon);
    // W-MSR converges at no rate the spectrum predicts (trimming changes the graph each round): it runs the configured
    // rounds, with a step that keeps every update a convex combination.
    if (resilience.f > 0 && plan.edges.length > 0) {
      plan.step = resilientStep(graph);
      plan.rounds = resilience.rounds;
    }
    cache.set(key, plan);
    return plan;
  };
}

function induced(graph: Graph, members: readonly string[]): Graph {
  const keep = new Set(members);
  return {
    nodes: graph.nodes.filter((n) => keep.has(n)),
    edges: graph.edges.filter(([a, b]) => keep.has(a) && keep.has(b)),
  };
}

function planFor(graph: Graph, epsilon: number): EpochGraph {
  const edges = graph.edges.map(([a, b, weight]) => ({ a, b, weight }));
  const n = graph.nodes.length;
  if (n <= 1 || edges.length === 0) return { edges, step: 1, rounds: 0, lambda2: 0 };
  const values = spectrum(graph);
  const lambdaMax = values[n - 1] ?? 0;
  const slowest = values.find((v) => v > ZERO) ?? lambdaMax;
  const connected = componentsOf(graph).length === 1;
  const step = 2 / (slowest + lambdaMax);
  const rounds = predictedRounds(convergenceFactor(step, slowest, lambdaMax), epsilon, n) ?? 1;
  return { edges, step, rounds, lambda2: connected ? (values[1] ?? 0) : 0 };
}
