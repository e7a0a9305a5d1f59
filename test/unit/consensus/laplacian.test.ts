import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  consensusError,
  consensusErrorVec,
  consensusStep,
  convergenceFactor,
  createGraph,
  eigenvaluesOf,
  graphFromTopology,
  laplacianOf,
  localUpdate,
  meanOf,
  optimalStep,
  predictedRounds,
  spectrum,
} from '../../../src/consensus/index.js';
import { errorOf, readings } from './helpers.js';

const runs = { numRuns: 150 };

describe('closed forms, from the solver and from spectrum(), to 1e-9', () => {
  const sizes = Array.from({ length: 12 }, (_, i) => i + 1);
  const cases: [string, number, (n: number) => number[]][] = [
    ...sizes.map(
      (n) =>
        [`K${n}`, n, (m: number) => Array.from({ length: m }, (_, k) => (k === 0 ? 0 : m))] as [
          string,
          number,
          (n: number) => number[],
        ],
    ),
    ...sizes
      .filter((n) => n >= 3)
      .map(
        (n) =>
          [`ring:${n}`, n, (m: number) => cosines(m, (k) => (2 * Math.PI * k) / m)] as [
            string,
            number,
            (n: number) => number[],
          ],
      ),
    ...sizes.map(
      (n) =>
        [`path:${n}`, n, (m: number) => cosines(m, (k) => (Math.PI * k) / m)] as [
          string,
          number,
          (n: number) => number[],
        ],
    ),
    ...sizes
      .filter((n) => n >= 2)
      .map(
        (n) =>
          [`star:${n}`, n, (m: number) => Array.from({ length: m }, (_, k) => (k === 0 ? 0 : k === m - 1 ? m : 1))] as [
            string,
            number,
            (n: number) => number[],
          ],
      ),
  ];
  test.each(cases)('%s', (spec, n, expected) => {
    const want = expected(n).sort((p, q) => p - q);
    const graph = graphFromTopology(spec);
    const solved = eigenvaluesOf(laplacianOf(graph));
    const closed = spectrum(graph);
    want.forEach((v, k) => {
      expect(Math.abs(solved[k]! - v)).toBeLessThan(1e-9);
      expect(Math.abs(closed[k]! - v)).toBeLessThan(1e-9);
    });
  });

  test('a shuffled, relabelled, weighted cycle is still recognised as C_n scaled by its weight', () => {
    const graph = createGraph(
      ['e', 'c', 'a', 'd', 'b'],
      [
        ['a', 'c', 2.5],
        ['d', 'b', 2.5],
        ['c', 'e', 2.5],
        ['b', 'a', 2.5],
        ['e', 'd', 2.5],
      ],
    );
    const want = cosines(5, (k) => (2 * Math.PI * k) / 5)
      .map((v) => 2.5 * v)
      .sort((p, q) => p - q);
    spectrum(graph).forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-9));
  });
});

function cosines(n: number, angle: (k: number) => number): number[] {
  return Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(angle(k)));
}

describe.each([3, 5, 7, 12])('K%i at a*', (n) => {
  const L = laplacianOf(`K${n}`);
  test('a* = 1/n, ρ = 0 and one round is predicted', () => {
    expect(optimalStep(L)).toBeCloseTo(1 / n, 12);
    expect(convergenceFactor(optimalStep(L), n, n)).toBe(0);
    expect(predictedRounds(0, 1e-6, n)).toBe(1);
  });
  test('the optimal step lands on the mean in one round', () => {
    fc.assert(
      fc.property(readings(n), (x) => {
        expect(consensusError(consensusStep(L, x, optimalStep(L)), meanOf(x))).toBeLessThan(1e-9);
      }),
      runs,
    );
  });
});

describe('special cases', () => {
  test('predictedRounds: one node needs none, ρ ≥ 1 never arrives, an exact power is not rounded up', () => {
    expect(predictedRounds(0.5, 1e-6, 1)).toBe(0);
    expect(predictedRounds(1, 1e-6, 4)).toBeNull();
    expect(predictedRounds(1e-13, 1e-6, 4)).toBe(1);
    expect(predictedRounds(0.1, 1e-3, 4)).toBe(3);
    expect(predictedRounds(0.5, 1e-3, 4)).toBe(10);
  });

  test('optimalStep refuses a disconnected graph with CONFIG_INVALID', () => {
    const L = laplacianOf(createGraph(['a', 'b', 'c'], [['a', 'b', 1]]));
    expect(() => optimalStep(L)).toThrowErrorMatchingInlineSnapshot(
      `[TriadError: [CONFIG_INVALID] the graph is disconnected (2 components, λ₂ = 0): no step size makes every node agree]`,
    );
    expect(errorOf(() => optimalStep(L)).code).toBe('CONFIG_INVALID');
  });

  // Shrunk by fast-check from the localUpdate property (the test, not the math, was wrong): a lone node.
  test('a lone node has no neighbours to move it: localUpdate and consensusStep leave it alone', () => {
    const graph = createGraph(['alpha'], []);
    expect(localUpdate([0], [], 0.001)).toEqual([0]);
    expect(consensusStep(laplacianOf(graph), [0], 0.001)).toEqual([0]);
    expect(optimalStep(laplacianOf(graph))).toBe(1);
    expect(spectrum(graph)).toEqual([0]);
  });

  test('consensusErrorVec is max_i ‖x_i − x̄‖∞ / max(1, ‖x̄‖∞)', () => {
    expect(
      consensusErrorVec(
        [
          [1, 10],
          [3, 30],
        ],
        [2, 20],
      ),
    ).toBe(0.5);
    expect(
      consensusErrorVec(
        [
          [0.1, 0],
          [0.3, 0],
        ],
        [0.2, 0],
      ),
    ).toBeCloseTo(0.1, 15);
  });

  test('consensusError is relative for large means and absolute near zero', () => {
    expect(consensusError([99, 101], 100)).toBe(0.01);
    expect(consensusError([-0.25, 0.25], 0)).toBe(0.25);
  });

  test('mismatched lengths are INPUT_INVALID, not NaN', () => {
    expect(() => consensusStep(laplacianOf('K3'), [1, 2], 0.1)).toThrow(/x has 2 values, expected 3/);
    expect(() => localUpdate([1, 2], [{ value: [1], weight: 1 }], 0.1)).toThrow(/neighbour 0's vector has 1 values/);
  });

  test('eigenvaluesOf is as accurate for tiny and huge weights as for unit ones', () => {
    for (const w of [1e-9, 1, 1e9]) {
      const g = createGraph(
        ['a', 'b', 'c', 'd'],
        [
          ['a', 'b', w],
          ['b', 'c', 2 * w],
          ['c', 'd', w],
          ['d', 'a', 3 * w],
          ['a', 'c', w],
        ],
      );
      const unit = eigenvaluesOf(
        laplacianOf(
          createGraph(
            g.nodes,
            g.edges.map(([u, v, x]) => [u, v, x / w]),
          ),
        ),
      );
      eigenvaluesOf(laplacianOf(g)).forEach((v, k) => expect(v / w).toBeCloseTo(unit[k]!, 9));
    }
  });
});
