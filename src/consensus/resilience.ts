import { TriadError } from '../shared/index.js';
import type { Graph } from './topology.js';

/**
 * W-MSR (weighted mean-subsequence-reduced, LeBlanc et al. 2013), one node's update: for each component of the
 * vector, drop up to `f` neighbour values above this node's own and up to `f` below it (the most extreme first), then
 * apply x_i ← x_i + a·Σ_kept w_ij (x_j − x_i). With a·Σ_j w_ij ≤ 1 the new value is a convex combination of this
 * node's value and kept values, each of which lies within the range of correct values (a liar's value survives the
 * trim only when some correct value lies beyond it), so up to f liars cannot pull a correct node out of that range.
 * Returns the new vector and the neighbours (by index) whose value was trimmed in some component.
 */
export function trimmedUpdate(
  self: readonly number[],
  neighbours: readonly { value: readonly number[]; weight: number }[],
  a: number,
  f: number,
): { value: number[]; trimmed: Set<number> } {
  const trimmed = new Set<number>();
  const value = self.map((xi, c) => {
    const above: { v: number; k: number }[] = [];
    const below: { v: number; k: number }[] = [];
    neighbours.forEach((nb, k) => {
      const v = nb.value[c] ?? xi;
      if (v > xi) above.push({ v, k });
      else if (v < xi) below.push({ v, k });
    });
    above.sort((p, q) => q.v - p.v);
    below.sort((p, q) => p.v - q.v);
    const drop = new Set<number>([...above.slice(0, f), ...below.slice(0, f)].map((e) => e.k));
    let pull = 0;
    neighbours.forEach((nb, k) => {
      if (drop.has(k)) trimmed.add(k);
      else pull += nb.weight * ((nb.value[c] ?? xi) - xi);
    });
    return xi + a * pull;
  });
  return { value, trimmed };
}

/** The step W-MSR uses: 1/(1 + the largest weighted degree), so every node's update stays a convex combination. */
export function resilientStep(graph: Graph): number {
  const degree = new Map<string, number>(graph.nodes.map((n) => [n, 0]));
  for (const [a, b, w] of graph.edges) {
    degree.set(a, (degree.get(a) ?? 0) + w);
    degree.set(b, (degree.get(b) ?? 0) + w);
  }
  return 1 / (1 + Math.max(0, ...degree.values()));
}

/** Brute force over every pair of disjoint subsets costs 3^n: 12 nodes is about half a million pairs. */
export const MAX_ROBUSTNESS_NODES = 12;

/** Two disjoint node sets neither of which has enough members reaching outside it: why a graph is not robust. */
export interface RobustnessWitness {
  s1: string[];
  s2: string[];
}

/**
 * Whether `graph` (restricted to `alive`, default all) is (r, s)-robust: for every pair of disjoint non-empty node
 * sets S1, S2, all of S1 or all of S2 are r-reachable (have ≥ r neighbours outside their own set), or together at
 * least s of their nodes are. Returns undefined when robust, else a witness pair. Brute force: n ≤ 12.
 */
export function robustnessWitness(
  graph: Graph,
  r: number,
  s: number,
  alive: readonly string[] = graph.nodes,
): RobustnessWitness | undefined {
  const nodes = graph.nodes.filter((n) => alive.includes(n));
  const n = nodes.length;
  if (n > MAX_ROBUSTNESS_NODES) {
    throw new TriadError(
      'INPUT_INVALID',
      `robustness is checked by brute force for at most ${MAX_ROBUSTNESS_NODES} nodes; this graph has ${n}`,
    );
  }
  const index = new Map(nodes.map((name, i) => [name, i]));
  const adjacency = new Array<number>(n).fill(0);
  for (const [a, b] of graph.edges) {
    const i = index.get(a);
    const j = index.get(b);
    if (i === undefined || j === undefined || i === j) continue;
    adjacency[i] = (adjacency[i] ?? 0) | (1 << j);
    adjacency[j] = (adjacency[j] ?? 0) | (1 << i);
  }
  const full = (1 << n) - 1;
  // For every subset: how many of its nodes are r-reachable, and its size.
  const reachable = new Int8Array(1 << n);
  const size = new Int8Array(1 << n);
  for (let set = 1; set <= full; set++) {
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (!(set & (1 << i))) continue;
      size[set] = (size[set] ?? 0) + 1;
      if (popcount((adjacency[i] ?? 0) & ~set & full) >= r) count++;
    }
    reachable[set] = count;
  }
  const names = (set: number) => nodes.filter((_, i) => set & (1 << i));
  for (let s1 = 1; s1 <= full; s1++) {
    const x1 = reachable[s1] ?? 0;
    if (x1 === size[s1]) continue;
    const rest = full & ~s1;
    // Every non-empty subset of the complement.
    for (let s2 = rest; s2 > 0; s2 = (s2 - 1) & rest) {
      const x2 = reachable[s2] ?? 0;
      if (x2 === size[s2] || x1 + x2 >= s) continue;
      return { s1: names(s1), s2: names(s2) };
    }
  }
  return undefined;
}

function popcount(v: number): number {
  let count = 0;
  for (let x = v; x !== 0; x &= x - 1) count++;
  return count;
}

export interface ResilienceAnalysis {
  f: number;
  /** (f+1, f+1)-robust: W-MSR's condition when a liar tells every neighbour the same value (malicious model). */
  robust: boolean;
  /**
   * After removing any f nodes, what is left is (f+1)-robust: the condition when a liar may tell each neighbour a
   * different value (Byzantine model, what a node with a certificate can do over point-to-point links).
   */
  tolerates: boolean;
  reason: string;
}

/**
 * Whether W-MSR with parameter f keeps the correct nodes agreeing, and why not. triad's peer links are
 * point-to-point, so a liar can tell each neighbour something different: `tolerates` is the condition that matters.
 * On K_n it reduces to n ≥ 3f + 1 (an r-robust K_m needs m ≥ 2r − 1; m = n − f, r = f + 1).
 */
export function analyzeResilience(graph: Graph, f: number): ResilienceAnalysis {
  if (!Number.isInteger(f) || f < 0) throw new TriadError('INPUT_INVALID', `f must be a whole number ≥ 0, got ${f}`);
  const n = graph.nodes.length;
  if (f === 0)
    return { f, robust: true, tolerates: true, reason: 'f = 0: no value is trimmed, the plain Laplacian update' };
  if (n <= f) {
    return { f, robust: false, tolerates: false, reason: `${n} node${n === 1 ? '' : 's'} cannot outnumber ${f} liars` };
  }
  const weak = robustnessWitness(graph, f + 1, f + 1);
  const robust = weak === undefined;
  for (const liars of subsetsUpTo(graph.nodes, f)) {
    const alive = graph.nodes.filter((x) => !liars.includes(x));
    const witness = robustnessWitness(graph, f + 1, 1, alive);
    if (!witness) continue;
    const removed = liars.length > 0 ? `with ${liars.join(', ')} lying` : 'even without a liar';
    return {
      f,
      robust,
      tolerates: false,
      reason:
        `${removed}, the correct nodes are not ${f + 1}-robust: in {${witness.s1.join(', ')}} and ` +
        `{${witness.s2.join(', ')}} no node has ${f + 1} neighbours outside its own set, so a liar that tells each ` +
        `a value beyond it (below the first set, above the second) gets every outside value trimmed and the sets ` +
        `never move towards each other` +
        (robust ? ` ((${f + 1}, ${f + 1})-robust suffices only against a liar that tells everyone the same)` : '') +
        ` (on a complete graph this means n ≥ 3f + 1 = ${3 * f + 1} nodes)`,
    };
  }
  return {
    f,
    robust,
    tolerates: true,
    reason: `whichever ${f === 1 ? 'node lies' : `${f} nodes lie`}, the others form a ${f + 1}-robust graph: W-MSR keeps them within the range of their own values and they converge`,
  };
}

function* subsetsUpTo(items: readonly string[], k: number, start = 0, chosen: string[] = []): Generator<string[]> {
  yield chosen;
  if (chosen.length === k) return;
  for (let i = start; i < items.length; i++) yield* subsetsUpTo(items, k, i + 1, [...chosen, items[i] as string]);
}
