// Pure Graph Laplacian math (DESIGN §3): no I/O, no clock, so the live protocol and `triad consensus analyze` agree.
import { createRequire } from 'node:module';
import type * as MathJs from 'mathjs';
import type * as MlMatrix from 'ml-matrix';
import { TriadError } from '../shared/index.js';
import { componentsOf, graphFromTopology, standardShapeOf, type Graph, type StandardShape } from './topology.js';

export type SquareMatrix = readonly (readonly number[])[];

/**
 * mathjs takes about half a second to load. Every node process imports this module, but only x(t) in
 * `triad consensus analyze` needs it, so it is loaded on first use.
 */
let mathjs: typeof MathJs | undefined;
function math(): typeof MathJs {
  mathjs ??= createRequire(import.meta.url)('mathjs') as typeof MathJs;
  return mathjs;
}

/** The eigen-solver's library, loaded on first use for the same reason: standard shapes never need it. */
let mlMatrix: typeof MlMatrix | undefined;
function linearAlgebra(): typeof MlMatrix {
  mlMatrix ??= createRequire(import.meta.url)('ml-matrix') as typeof MlMatrix;
  return mlMatrix;
}

/**
 * Below this a convergence factor is rounding noise: on K_n at a* = 1/n every |1 − a·n| is 0 in exact arithmetic but
 * can come out as 1e-16, which would otherwise predict ln(ε)/ln(1e-16) ≈ 1 round only by luck.
 */
const RHO_ZERO = 1e-12;

function resolve(graph: Graph | string): Graph {
  return typeof graph === 'string' ? graphFromTopology(graph) : graph;
}

/** L = D − A for the weighted graph (a topology spec like "K5" is expanded first); rows follow `graph.nodes`. */
export function laplacianOf(graph: Graph | string): number[][] {
  const g = resolve(graph);
  const index = new Map(g.nodes.map((name, i) => [name, i]));
  const rows = g.nodes.map(() => new Array<number>(g.nodes.length).fill(0));
  for (const [a, b, w] of g.edges) {
    const i = index.get(a);
    const j = index.get(b);
    const rowI = i === undefined ? undefined : rows[i];
    const rowJ = j === undefined ? undefined : rows[j];
    if (i === undefined || j === undefined || !rowI || !rowJ) {
      throw new TriadError('INPUT_INVALID', `edge ${a}–${b} names a node outside the graph`);
    }
    rowI[j] = (rowI[j] ?? 0) - w;
    rowJ[i] = (rowJ[i] ?? 0) - w;
    rowI[i] = (rowI[i] ?? 0) + w;
    rowJ[j] = (rowJ[j] ?? 0) + w;
  }
  return rows;
}

/**
 * Eigenvalues of a symmetric matrix, ascending, from ml-matrix's symmetric solver (Householder tridiagonalisation then
 * implicit QL, the EISPACK tred2/tql2 pair): O(n³), about 0.1 s at 200 nodes. mathjs' own symmetric solver is
 * classical Jacobi, whose every rotation scans the whole matrix (O(n⁴), 2.4 s at 200 nodes); mathjs stays the math
 * library for everything else, and a property test checks the two solvers agree. QL's stopping test is relative to
 * the matrix norm, so weights of 1e-9 are solved as accurately as weights of 1.
 */
export function eigenvaluesOf(L: SquareMatrix): number[] {
  const n = L.length;
  if (n === 0) return [];
  if (n === 1) return [L[0]?.[0] ?? 0];
  const { EigenvalueDecomposition, Matrix } = linearAlgebra();
  const { realEigenvalues } = new EigenvalueDecomposition(new Matrix(L.map((row) => [...row])), {
    assumeSymmetric: true,
  });
  return realEigenvalues.sort((x, y) => x - y);
}

/**
 * The Laplacian spectrum, ascending: closed forms for K_n, C_n, S_n, P_n with one common weight, the solver otherwise.
 * A disconnected graph's spectrum is the union of its components' (L is block-diagonal), so each component is solved
 * on its own: smaller matrices, and a component of standard shape keeps its exact closed form.
 */
export function spectrum(graph: Graph | string): number[] {
  const g = resolve(graph);
  const components = componentsOf(g);
  if (components.length > 1) {
    return components.flatMap((members) => spectrum(subgraphOf(g, members))).sort((x, y) => x - y);
  }
  const standard = standardShapeOf(g);
  if (standard) return closedFormSpectrum(standard.shape, g.nodes.length, standard.weight);
  return eigenvaluesOf(laplacianOf(g));
}

function subgraphOf(graph: Graph, members: readonly string[]): Graph {
  const inside = new Set(members);
  return { nodes: [...members], edges: graph.edges.filter(([a]) => inside.has(a)) };
}

/** Textbook spectra (Brouwer & Haemers, "Spectra of Graphs", ch. 1), scaled by the common edge weight. */
function closedFormSpectrum(shape: StandardShape, n: number, weight: number): number[] {
  let values: number[];
  if (shape === 'complete') values = Array.from({ length: n }, (_, k) => (k === 0 ? 0 : n));
  else if (shape === 'star') values = Array.from({ length: n }, (_, k) => (k === 0 ? 0 : k === n - 1 ? n : 1));
  else {
    const period = shape === 'ring' ? n / 2 : n;
    values = Array.from({ length: n }, (_, k) => (k === 0 ? 0 : 2 - 2 * Math.cos((Math.PI * k) / period)));
  }
  return values.map((v) => v * weight).sort((x, y) => x - y);
}

/** The graph a Laplacian describes (nodes "0"…"n−1"), to count components without trusting a near-zero eigenvalue. */
function graphOfLaplacian(L: SquareMatrix): Graph {
  const nodes = L.map((_, i) => String(i));
  const edges: [string, string, number][] = [];
  L.forEach((row, i) => row.forEach((v, j) => j > i && v !== 0 && edges.push([String(i), String(j), -v])));
  return { nodes, edges };
}

/**
 * Step size a for x ← x − a·Lx; unitless. Throws CONFIG_INVALID when the graph is disconnected (λ₂ = 0).
 * a = 2/(λ₂+λ_max) minimises max|1 − aλ| over λ₂…λ_max; on K_n both equal n, so a = 1/n reaches the mean in one round
 * (one node: 1, the same 1/n, though any step leaves a lone value where it is).
 */
export function optimalStep(L: SquareMatrix): number {
  const n = L.length;
  if (n === 0) throw new TriadError('INPUT_INVALID', 'the Laplacian is empty: a graph needs at least one node');
  if (n === 1) return 1;
  const components = componentsOf(graphOfLaplacian(L)).length;
  if (components > 1) {
    throw new TriadError(
      'CONFIG_INVALID',
      `the graph is disconnected (${components} components, λ₂ = 0): no step size makes every node agree`,
    );
  }
  const values = eigenvaluesOf(L);
  return 2 / ((values[1] ?? 0) + (values[n - 1] ?? 0));
}

/** ρ(a) = max(|1 − aλ₂|, |1 − aλ_max|): the factor by which one round shrinks the disagreement (worst mode). */
export function convergenceFactor(a: number, lambda2: number, lambdaMax: number): number {
  const rho = Math.max(Math.abs(1 - a * lambda2), Math.abs(1 - a * lambdaMax));
  return rho < RHO_ZERO ? 0 : rho;
}

/**
 * Rounds k with ρ^k ≤ ε: ceil(ln ε / ln ρ). One node needs none; ρ = 0 needs exactly one; ρ ≥ 1 never gets there
 * (null). The 1e-9 slack keeps a quotient like 3.0000000000000004 from becoming 4 rounds.
 */
export function predictedRounds(rho: number, epsilon: number, nodes: number): number | null {
  if (nodes <= 1) return 0;
  if (!(rho < 1)) return null;
  if (rho < RHO_ZERO) return 1;
  return Math.max(1, Math.ceil(Math.log(epsilon) / Math.log(rho) - 1e-9));
}

/** Continuous-time estimate ln(1/ε)/λ₂ for ẋ = −Lx to shrink disagreement by ε; null when λ₂ = 0 (never). */
export function mixingTime(lambda2: number, epsilon: number, nodes: number): number | null {
  if (nodes <= 1) return 0;
  return lambda2 > 0 ? Math.log(1 / epsilon) / lambda2 : null;
}

function checkLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new TriadError('INPUT_INVALID', `${what} has ${actual} values, expected ${expected}`);
  }
}

/** One synchronous round x ← x − a·Lx, all nodes at once. */
export function consensusStep(L: SquareMatrix, x: readonly number[], a: number): number[] {
  checkLength('x', x.length, L.length);
  return x.map((xi, i) => {
    const row = L[i] ?? [];
    let lx = 0;
    for (let j = 0; j < row.length; j++) lx += (row[j] ?? 0) * (x[j] ?? 0);
    return xi - a * lx;
  });
}

/** What node i computes in a round from its neighbours' values: x_i + a·Σ_j w_ij (x_j − x_i), per component. */
export function localUpdate(
  self: readonly number[],
  neighbours: readonly { value: readonly number[]; weight: number }[],
  a: number,
): number[] {
  neighbours.forEach((nb, k) => checkLength(`neighbour ${k}'s vector`, nb.value.length, self.length));
  return self.map((xi, c) => {
    let pull = 0;
    for (const nb of neighbours) pull += nb.weight * ((nb.value[c] ?? 0) - xi);
    return xi + a * pull;
  });
}

export function meanOf(x: readonly number[]): number {
  return x.length === 0 ? 0 : x.reduce((sum, v) => sum + v, 0) / x.length;
}

/** DESIGN §3 for scalars: max_i |x_i − x̄| / max(1, |x̄|), relative for large values, absolute near zero. */
export function consensusError(x: readonly number[], mean: number): number {
  let worst = 0;
  for (const v of x) worst = Math.max(worst, Math.abs(v - mean));
  return worst / Math.max(1, Math.abs(mean));
}

/** DESIGN §3 for measurement vectors: max_i ‖x_i − x̄‖∞ / max(1, ‖x̄‖∞). */
export function consensusErrorVec(xs: readonly (readonly number[])[], mean: readonly number[]): number {
  let worst = 0;
  xs.forEach((x, i) => {
    checkLength(`vector ${i}`, x.length, mean.length);
    x.forEach((v, c) => (worst = Math.max(worst, Math.abs(v - (mean[c] ?? 0)))));
  });
  const norm = mean.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return worst / Math.max(1, norm);
}

/** x(t) = e^(−Lt)·x0, the continuous-time flow ẋ = −Lx, via mathjs' Padé expm (no eigenvectors needed). */
export function stateAt(L: SquareMatrix, x0: readonly number[], t: number): number[] {
  checkLength('x0', x0.length, L.length);
  if (L.length === 0) return [];
  const { expm, matrix, multiply } = math();
  const flow = expm(matrix(L.map((row) => row.map((v) => -t * v))));
  return multiply<MathJs.Matrix>(flow, matrix([...x0])).toArray() as number[];
}
