import { TriadError } from '../shared/index.js';
import { convergenceFactor, laplacianOf, meanOf, mixingTime, predictedRounds, spectrum, stateAt } from './laplacian.js';
import { componentsOf, type Graph } from './topology.js';

/** The cluster's default (config/cluster.yaml `consensus.epsilon`). */
export const DEFAULT_EPSILON = 1e-6;

/**
 * The simulation runs at most this many rounds, and fewer on big graphs (see MAX_ITERATION_WORK). path:500 at a*,
 * the slowest shape within MAX_NODES, needs about 420 000 rounds to reach ε = 1e-6; hitting the cap means a tiny
 * step or an ε below float resolution, and the analysis note says so.
 */
export const MAX_ITERATIONS = 1_000_000;

/** Rounds × (edges + nodes) allowed: about 3 s of the edge loop here, so even K500 with a tiny step ends. */
export const MAX_ITERATION_WORK = 1e9;

/** The round cap for a graph: MAX_ITERATIONS, lowered so the run stays within MAX_ITERATION_WORK. */
export function iterationCap(graph: Graph): number {
  const perRound = graph.edges.length + graph.nodes.length;
  return Math.min(MAX_ITERATIONS, Math.max(1, Math.floor(MAX_ITERATION_WORK / Math.max(1, perRound))));
}

export interface AnalyzeOptions {
  /** Target relative error, 0 < ε < 1. */
  epsilon?: number;
  /** Step a; default a* = 2/(λ₂+λ_max). A step with ρ(a) ≥ 1 is rejected. */
  step?: number;
  /** Initial values, one per node: enables the simulated iteration (and x(t) with `t`). */
  x0?: readonly number[];
  /** Time for the continuous state x(t) = e^(−Lt)·x0; needs x0. */
  t?: number;
  maxIterations?: number;
}

/** Everything `triad consensus analyze --json` prints; key order is the JSON's. */
export interface ConsensusAnalysis {
  nodes: string[];
  laplacian: number[][];
  eigenvalues: number[];
  lambda2: number;
  lambdaMax: number;
  connected: boolean;
  components: number;
  alphaStar: number | null;
  step: number | null;
  rho: number | null;
  epsilon: number;
  predictedRounds: number | null;
  mixingTime: number | null;
  /**
   * Rounds of x ← (I − aL)x until max|x − x̄| ≤ ε·max(1, max|x0 − x̄|), at most iterationCap(graph); null when the
   * graph is disconnected.
   */
  iterations?: number | null;
  /** max|x − x̄| / max(1, max|x0 − x̄|) after those rounds: ≤ ε when the iteration converged. */
  finalError?: number | null;
  xT?: number[];
  /** Why the nodes cannot agree, or why the simulation stopped early. */
  note?: string;
}

/** Throws INPUT_INVALID unless `x0` has one finite number per node; `label` names the source (`--x0`, `g.json: x0`). */
export function checkInitialValues(x0: readonly number[], nodes: readonly string[], label: string): void {
  if (x0.length !== nodes.length) {
    const names = nodes.length <= 12 ? ` (${nodes.join(', ')})` : '';
    throw new TriadError(
      'INPUT_INVALID',
      `${label} has ${x0.length} value${x0.length === 1 ? '' : 's'} but the graph has ${nodes.length} nodes${names}`,
    );
  }
  const bad = x0.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new TriadError('INPUT_INVALID', `${label}[${bad}]: expected a finite number, received ${String(x0[bad])}`);
  }
}

/** The spectral analysis of a graph, plus the simulated iteration and x(t) when initial values are given. */
export function analyzeGraph(graph: Graph, options: AnalyzeOptions = {}): ConsensusAnalysis {
  const epsilon = options.epsilon ?? DEFAULT_EPSILON;
  if (!(epsilon > 0 && epsilon < 1)) {
    throw new TriadError('INPUT_INVALID', `epsilon must be between 0 and 1 (exclusive), received ${epsilon}`);
  }
  if (options.x0) checkInitialValues(options.x0, graph.nodes, 'x0');
  if (options.t !== undefined && !(Number.isFinite(options.t) && options.t >= 0)) {
    throw new TriadError('INPUT_INVALID', `t must be a finite time ≥ 0, received ${options.t}`);
  }
  if (options.t !== undefined && !options.x0) {
    throw new TriadError('INPUT_INVALID', 'x(t) needs initial values: give x0 as well as t');
  }
  const n = graph.nodes.length;
  const components = componentsOf(graph);
  const connected = components.length === 1;
  const eigenvalues = spectrum(graph);
  // The solver returns the zero eigenvalues as ±1e-16; a "negative" eigenvalue of a PSD matrix only confuses a reader.
  // Components are counted exactly, so exactly that many of the smallest values are zero in exact arithmetic.
  for (let k = 0; k < components.length; k++) eigenvalues[k] = 0;
  const lambdaMax = eigenvalues[n - 1] ?? 0;
  const lambda2 = connected && n > 1 ? (eigenvalues[1] ?? 0) : 0;
  const alphaStar = !connected ? null : n === 1 ? 1 : 2 / (lambda2 + lambdaMax);
  const step = options.step ?? alphaStar;
  if (options.step !== undefined) checkStep(options.step, lambda2, lambdaMax, alphaStar, n);

  let rho: number | null = null;
  if (step !== null) rho = !connected ? 1 : n === 1 ? 0 : convergenceFactor(step, lambda2, lambdaMax);
  const analysis: ConsensusAnalysis = {
    nodes: [...graph.nodes],
    laplacian: laplacianOf(graph),
    eigenvalues,
    lambda2,
    lambdaMax,
    connected,
    components: components.length,
    alphaStar,
    step,
    rho,
    epsilon,
    predictedRounds: connected && rho !== null ? predictedRounds(rho, epsilon, n) : null,
    mixingTime: connected ? mixingTime(lambda2, epsilon, n) : null,
  };
  const notes: string[] = [];
  if (!connected) notes.push(describeComponents(components));
  if (options.x0) {
    if (connected && step !== null) {
      const maxIterations = options.maxIterations ?? iterationCap(graph);
      const run = iterate(graph, options.x0, step, epsilon, maxIterations);
      analysis.iterations = run.iterations;
      analysis.finalError = run.finalError;
      if (!run.converged) {
        notes.push(
          `the simulation stopped at its cap of ${maxIterations} rounds with error ${run.finalError.toPrecision(3)} ` +
            `(ε = ${epsilon}; ρ = ${round(rho ?? 1)} predicts ${analysis.predictedRounds ?? 'no'} rounds)`,
        );
      }
    } else {
      analysis.iterations = null;
      analysis.finalError = null;
    }
    if (options.t !== undefined) analysis.xT = stateAt(analysis.laplacian, options.x0, options.t);
  }
  if (notes.length > 0) analysis.note = notes.join('; ');
  return analysis;
}

/**
 * Rejects a step at which the iteration does not converge. On a connected graph ρ(a) < 1 exactly when
 * 0 < a < 2/λ_max (λ₂ ≤ λ_max makes |1 − aλ₂| < 1 follow). On a disconnected one ρ is 1 whatever the step, so only
 * growth is rejected: |1 − aλ_max| ≥ 1 makes the values blow up instead of merely failing to agree.
 */
function checkStep(a: number, lambda2: number, lambdaMax: number, alphaStar: number | null, n: number): void {
  if (!Number.isFinite(a)) throw new TriadError('INPUT_INVALID', `step must be a finite number, received ${a}`);
  if (n === 1 && a > 0) return;
  const growth = lambdaMax > 0 ? Math.abs(1 - a * lambdaMax) : 0;
  if (a > 0 && (alphaStar === null ? growth : convergenceFactor(a, lambda2, lambdaMax)) < 1) return;
  const rho = alphaStar === null ? Math.max(1, growth) : convergenceFactor(a, lambda2, lambdaMax);
  const range = lambdaMax > 0 ? `0 < a < 2/λ_max = ${round(2 / lambdaMax)}` : '0 < a';
  const optimal = alphaStar === null ? '' : `; optimal a* = ${round(alphaStar)}`;
  throw new TriadError(
    'INPUT_INVALID',
    `step a = ${a} ${rho > 1 ? 'diverges' : 'never converges'}: ρ(a) = max(|1 − aλ₂|, |1 − aλ_max|) = ${round(rho)} ≥ 1; ` +
      `the stable range is ${range}${optimal}`,
  );
}

function round(v: number): string {
  return String(Number(v.toPrecision(6)));
}

interface IterationResult {
  iterations: number;
  finalError: number;
  converged: boolean;
}

/**
 * Runs x ← (I − aL)x the way the nodes do, edge by edge: O(edges) per round instead of O(n²) for the dense product,
 * which matters at tens of thousands of rounds. The stopping rule is relative to the initial spread, like ρ^k.
 */
export function iterate(
  graph: Graph,
  x0: readonly number[],
  a: number,
  epsilon: number,
  maxIterations: number = iterationCap(graph),
): IterationResult {
  const index = new Map(graph.nodes.map((name, i) => [name, i]));
  const from: number[] = [];
  const to: number[] = [];
  const weight: number[] = [];
  for (const [u, v, w] of graph.edges) {
    from.push(index.get(u) ?? 0);
    to.push(index.get(v) ?? 0);
    weight.push(w);
  }
  const mean = meanOf(x0);
  const spread = (x: ArrayLike<number>) => {
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] ?? 0) - mean));
    return worst;
  };
  const scale = Math.max(1, spread(x0));
  const x = Float64Array.from(x0);
  const next = new Float64Array(x.length);
  let error = spread(x0);
  let rounds = 0;
  while (error > epsilon * scale && rounds < maxIterations) {
    next.set(x);
    for (let e = 0; e < from.length; e++) {
      const i = from[e] ?? 0;
      const j = to[e] ?? 0;
      const flow = a * (weight[e] ?? 0) * ((x[j] ?? 0) - (x[i] ?? 0));
      next[i] = (next[i] ?? 0) + flow;
      next[j] = (next[j] ?? 0) - flow;
    }
    x.set(next);
    error = spread(x);
    rounds++;
  }
  return { iterations: rounds, finalError: error / scale, converged: error <= epsilon * scale };
}

/** "the graph has 2 components ({alpha,beta} and {gamma}); …", listing at most a few names of each. */
export function describeComponents(components: readonly (readonly string[])[]): string {
  const shown = components.slice(0, 6).map((c) => {
    const names = c.slice(0, 8).join(',');
    return `{${names}${c.length > 8 ? `,… ${c.length - 8} more` : ''}}`;
  });
  if (components.length > 6) shown.push(`${components.length - 6} more`);
  const list = shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1) ?? ''}` : (shown[0] ?? '');
  return (
    `the graph has ${components.length} components (${list}); ` +
    'information never crosses between them, so the nodes cannot agree'
  );
}
