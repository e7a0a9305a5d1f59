import { describe, expect, test } from 'vitest';
import {
  analyzeGraph,
  createGraph,
  describeComponents,
  graphFromTopology,
  iterationCap,
  MAX_ITERATION_WORK,
  MAX_ITERATIONS,
} from '../../../src/consensus/index.js';
import { errorOf } from './helpers.js';

describe('analyzeGraph', () => {
  test('K5: λ₂ = λ_max = 5, a* = 1/5, ρ = 0, one round predicted and simulated', () => {
    const analysis = analyzeGraph(graphFromTopology('K5'), { x0: [1, 2, 3, 4, 10] });
    expect(analysis).toMatchObject({
      eigenvalues: [0, 5, 5, 5, 5],
      lambda2: 5,
      lambdaMax: 5,
      connected: true,
      components: 1,
      alphaStar: 0.2,
      step: 0.2,
      rho: 0,
      predictedRounds: 1,
      iterations: 1,
    });
    expect(analysis.mixingTime).toBeCloseTo(Math.log(1e6) / 5, 12);
    expect(analysis.finalError).toBeLessThan(1e-9);
  });

  test('ring:6 simulates no more rounds than predicted for the 2-norm bound, and x(t) keeps the mean', () => {
    const x0 = [6, 0, 0, 0, 0, 0];
    const analysis = analyzeGraph(graphFromTopology('ring:6'), { x0, t: 2 });
    expect(analysis.rho).toBeCloseTo(0.6, 12);
    expect(analysis.predictedRounds).toBe(28);
    expect(analysis.iterations).toBeGreaterThan(0);
    expect(analysis.iterations).toBeLessThanOrEqual(28 + Math.ceil(Math.log(Math.sqrt(6)) / -Math.log(0.6)));
    expect(analysis.xT!.reduce((s, v) => s + v, 0)).toBeCloseTo(6, 9);
  });

  test('a disconnected graph is reported, not refused: no step, no rounds, and a note naming the components', () => {
    const graph = createGraph(['alpha', 'beta', 'gamma'], [['alpha', 'beta', 1]]);
    const analysis = analyzeGraph(graph, { x0: [1, 2, 3], t: 1 });
    expect(analysis).toMatchObject({
      eigenvalues: [0, 0, 2],
      lambda2: 0,
      connected: false,
      components: 2,
      alphaStar: null,
      step: null,
      rho: null,
      predictedRounds: null,
      mixingTime: null,
      iterations: null,
      finalError: null,
    });
    expect(analysis.xT).toHaveLength(3);
    expect(analysis.note).toMatchInlineSnapshot(
      `"the graph has 2 components ({alpha,beta} and {gamma}); information never crosses between them, so the nodes cannot agree"`,
    );
  });

  test('a lone node already agrees: zero rounds, zero mixing time', () => {
    const analysis = analyzeGraph(graphFromTopology('K1'), { x0: [42] });
    expect(analysis).toMatchObject({ lambda2: 0, lambdaMax: 0, alphaStar: 1, rho: 0, predictedRounds: 0 });
    expect(analysis).toMatchObject({ mixingTime: 0, iterations: 0, finalError: 0 });
  });

  test('a stable custom step is used and its ρ reported', () => {
    const analysis = analyzeGraph(graphFromTopology('K5'), { step: 0.1 });
    expect(analysis.step).toBe(0.1);
    expect(analysis.rho).toBeCloseTo(0.5, 12);
    expect(analysis.predictedRounds).toBe(20);
  });

  test('a diverging step is INPUT_INVALID with the stable range', () => {
    const error = errorOf(() => analyzeGraph(graphFromTopology('K5'), { step: 0.5 }));
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toMatchInlineSnapshot(
      `"[INPUT_INVALID] step a = 0.5 diverges: ρ(a) = max(|1 − aλ₂|, |1 − aλ_max|) = 1.5 ≥ 1; the stable range is 0 < a < 2/λ_max = 0.4; optimal a* = 0.2"`,
    );
  });

  test.each([0, -0.1, 0.4, 1])('step %d on K5 is refused (ρ ≥ 1)', (step) => {
    expect(() => analyzeGraph(graphFromTopology('K5'), { step })).toThrow(
      /(diverges|never converges): .* ≥ 1; the stable range is 0 < a < 2\/λ_max = 0.4/,
    );
  });

  test('on a disconnected graph only a growing step is refused', () => {
    const graph = createGraph(['a', 'b', 'c'], [['a', 'b', 1]]);
    expect(analyzeGraph(graph, { step: 0.5 }).rho).toBe(1);
    expect(() => analyzeGraph(graph, { step: 1 })).toThrow(/the stable range is 0 < a < 2\/λ_max = 1$/);
    expect(analyzeGraph(createGraph(['a', 'b'], []), { step: 5 }).step).toBe(5);
    expect(() => analyzeGraph(createGraph(['a', 'b'], []), { step: 0 })).toThrow(
      /step a = 0 never converges: ρ\(a\) = max\(.*\) = 1 ≥ 1; the stable range is 0 < a$/,
    );
  });

  test('the simulation stops at its cap and says so', () => {
    const analysis = analyzeGraph(graphFromTopology('path:8'), { x0: [1, 0, 0, 0, 0, 0, 0, 0], maxIterations: 5 });
    expect(analysis.iterations).toBe(5);
    expect(analysis.finalError).toBeGreaterThan(1e-6);
    expect(analysis.note).toMatch(/^the simulation stopped at its cap of 5 rounds with error /);
  });

  test('path:200 at a*, predicted past 100 000 rounds, still finishes under the cap', () => {
    const graph = graphFromTopology('path:200');
    const x0 = graph.nodes.map((_, i) => (i === 0 ? 1 : 0));
    const analysis = analyzeGraph(graph, { x0 });
    expect(iterationCap(graph)).toBe(MAX_ITERATIONS);
    expect(analysis.predictedRounds).toBeGreaterThan(100_000);
    expect(analysis.iterations).toBeLessThanOrEqual(analysis.predictedRounds!);
    expect(analysis.finalError).toBeLessThanOrEqual(1e-6);
    expect(analysis.note).toBeUndefined();
  });

  test('the round cap shrinks on big graphs so a tiny step cannot run for minutes', () => {
    const graph = graphFromTopology('K500');
    expect(iterationCap(graph)).toBe(Math.floor(MAX_ITERATION_WORK / (124_750 + 500)));
  });

  test.each([
    [{ epsilon: 0 }, /epsilon must be between 0 and 1 \(exclusive\), received 0/],
    [{ epsilon: 1 }, /received 1$/],
    [{ x0: [1, 2] }, /x0 has 2 values but the graph has 3 nodes \(alpha, beta, gamma\)/],
    [{ x0: [1, Number.NaN, 3] }, /x0\[1\]: expected a finite number, received NaN/],
    [{ t: 1 }, /x\(t\) needs initial values/],
    [{ x0: [1, 2, 3], t: -1 }, /t must be a finite time ≥ 0, received -1/],
  ])('%j is INPUT_INVALID', (options, message) => {
    const error = errorOf(() => analyzeGraph(graphFromTopology('K3'), options));
    expect(error.code).toBe('INPUT_INVALID');
    expect(error.message).toMatch(message);
  });
});

test('describeComponents keeps long lists short', () => {
  const many = Array.from({ length: 8 }, (_, i) => Array.from({ length: i === 0 ? 10 : 1 }, (_, k) => `n${i}_${k}`));
  expect(describeComponents(many)).toMatchInlineSnapshot(
    `"the graph has 8 components ({n0_0,n0_1,n0_2,n0_3,n0_4,n0_5,n0_6,n0_7,… 2 more}, {n1_0}, {n2_0}, {n3_0}, {n4_0}, {n5_0} and 2 more); information never crosses between them, so the nodes cannot agree"`,
  );
});
