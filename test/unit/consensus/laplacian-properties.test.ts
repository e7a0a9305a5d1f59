import fc from 'fast-check';
import { eigs } from 'mathjs';
import { describe, expect, test } from 'vitest';
import {
  componentsOf,
  consensusError,
  consensusStep,
  convergenceFactor,
  eigenvaluesOf,
  iterate,
  laplacianOf,
  localUpdate,
  meanOf,
  optimalStep,
  predictedRounds,
  spectrum,
  stateAt,
  type Graph,
} from '../../../src/consensus/index.js';
import { graphWithReadings, readings, weightedGraph } from './helpers.js';

const runs = { numRuns: 150 };
const anyGraph = fc.oneof(weightedGraph({ connected: true }), weightedGraph({ connected: false }));

/** Size of the matrix's entries, so tolerances scale with the weights drawn. */
function scaleOf(L: number[][]): number {
  return Math.max(1, ...L.map((row, i) => Math.abs(row[i]!)));
}

describe('the Laplacian of a random weighted graph', () => {
  test('every row sums to 0 and the matrix is symmetric', () => {
    fc.assert(
      fc.property(anyGraph, (graph) => {
        const L = laplacianOf(graph);
        L.forEach((row, i) => {
          expect(Math.abs(row.reduce((s, v) => s + v, 0))).toBeLessThanOrEqual(1e-12 * scaleOf(L));
          row.forEach((v, j) => expect(v).toBe(L[j]![i]));
        });
      }),
      runs,
    );
  });

  test('is positive semi-definite: every eigenvalue ≥ −1e-9', () => {
    fc.assert(
      fc.property(anyGraph, (graph) => {
        for (const value of eigenvaluesOf(laplacianOf(graph))) expect(value).toBeGreaterThanOrEqual(-1e-9);
      }),
      runs,
    );
  });

  test('eigenvalue 0 has the multiplicity of the number of connected components', () => {
    fc.assert(
      fc.property(anyGraph, (graph) => {
        const values = eigenvaluesOf(laplacianOf(graph));
        const zeros = values.filter((v) => Math.abs(v) <= 1e-9).length;
        expect(Math.abs(values[0]!)).toBeLessThanOrEqual(1e-9);
        expect(zeros).toBe(componentsOf(graph).length);
      }),
      runs,
    );
  });

  test('spectrum() agrees with the solver whether or not it finds a closed form', () => {
    fc.assert(
      fc.property(anyGraph, (graph) => {
        const fromSolver = eigenvaluesOf(laplacianOf(graph));
        spectrum(graph).forEach((v, k) => expect(v).toBeCloseTo(fromSolver[k]!, 9));
      }),
      runs,
    );
  });

  test("the solver's eigenvalues match mathjs' own symmetric solver (Jacobi) to 1e-9, relative to the weights", () => {
    fc.assert(
      fc.property(anyGraph, (graph) => {
        const L = laplacianOf(graph);
        const jacobi = (eigs(L, { eigenvectors: false }).values as number[]).slice().sort((x, y) => x - y);
        const solved = eigenvaluesOf(L);
        expect(solved).toHaveLength(jacobi.length);
        solved.forEach((v, k) => expect(Math.abs(v - jacobi[k]!)).toBeLessThanOrEqual(1e-9 * scaleOf(L)));
      }),
      runs,
    );
  });

  test('any stable step keeps the mean', () => {
    fc.assert(
      fc.property(
        anyGraph.chain((g) => fc.tuple(fc.constant(g), readings(g.nodes.length))),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        ([graph, x], fraction) => {
          const L = laplacianOf(graph);
          const lambdaMax = eigenvaluesOf(L).at(-1)!;
          const a = lambdaMax > 0 ? (fraction * 2) / lambdaMax : fraction;
          expect(meanOf(consensusStep(L, x, a))).toBeCloseTo(meanOf(x), 9);
        },
      ),
      runs,
    );
  });

  test('the continuous flow keeps the mean and x(t) reaches it as t grows', () => {
    fc.assert(
      fc.property(graphWithReadings({ connected: true, minNodes: 2 }), ({ graph, x }) => {
        const L = laplacianOf(graph);
        const lambda2 = eigenvaluesOf(L)[1]!;
        const mean = meanOf(x);
        const early = stateAt(L, x, 1 / lambda2);
        const late = stateAt(L, x, 40 / lambda2);
        expect(meanOf(early)).toBeCloseTo(mean, 8);
        // e^(−λ₂t) bounds the disagreement: e^-1 of it is left at t = 1/λ₂, e^-40 (below rounding) at 40/λ₂.
        expect(consensusError(early, mean)).toBeLessThanOrEqual(
          Math.exp(-1) * consensusError(x, mean) * Math.sqrt(x.length) + 1e-9,
        );
        expect(consensusError(late, mean)).toBeLessThan(1e-8);
      }),
      runs,
    );
  });

  test('a* converges within the rounds ρ predicts for the ∞-norm (ε/√n in the 2-norm bound)', () => {
    fc.assert(
      fc.property(graphWithReadings({ connected: true, minNodes: 2 }), ({ graph, x }) => {
        const L = laplacianOf(graph);
        const values = eigenvaluesOf(L);
        const a = optimalStep(L);
        const rho = convergenceFactor(a, values[1]!, values.at(-1)!);
        const epsilon = 1e-6;
        const bound = predictedRounds(rho, epsilon / Math.sqrt(x.length), x.length)!;
        const run = iterate(graph, x, a, epsilon);
        expect(run.converged).toBe(true);
        expect(run.iterations).toBeLessThanOrEqual(bound);
      }),
      runs,
    );
  });

  test('localUpdate at every node is one row of consensusStep, per vector component', () => {
    fc.assert(
      fc.property(
        graphWithReadings({ connected: false }).chain(({ graph, x }) =>
          fc.tuple(fc.constant(graph), fc.constant(x), readings(graph.nodes.length)),
        ),
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        ([graph, x, y], a) => {
          const L = laplacianOf(graph);
          const both = localUpdates(graph, x, y, a);
          const stepX = consensusStep(L, x, a);
          const stepY = consensusStep(L, y, a);
          both.forEach(([bx, by], i) => {
            expect(bx).toBeCloseTo(stepX[i]!, 9);
            expect(by).toBeCloseTo(stepY[i]!, 9);
          });
        },
      ),
      runs,
    );
  });
});

function localUpdates(graph: Graph, x: number[], y: number[], a: number): number[][] {
  return graph.nodes.map((name, i) => {
    const neighbours = graph.edges
      .filter(([u, v]) => u === name || v === name)
      .map(([u, v, w]) => {
        const j = graph.nodes.indexOf(u === name ? v : u);
        return { value: [x[j]!, y[j]!], weight: w };
      });
    return localUpdate([x[i]!, y[i]!], neighbours, a);
  });
}
