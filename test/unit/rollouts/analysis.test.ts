import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AgreedFigures } from '../../../src/layer-manager/index.js';
import {
  bucketOf,
  inRollout,
  measurePrometheus,
  measureTriad,
  murmurHash3x86_32,
  parseCondition,
  tally,
  verdict,
  type AnalysisMetric,
} from '../../../src/rollouts/index.js';

const metric = (
  over: Partial<AnalysisMetric> & Pick<AnalysisMetric, 'provider' | 'successCondition'>,
): AnalysisMetric => ({
  name: 'm',
  interval: 60_000,
  count: 1,
  failureLimit: 0,
  inconclusiveLimit: 0,
  consecutiveErrorLimit: 4,
  dryRun: false,
  ...over,
});

const figures = (
  instances: Record<string, { amplification?: number; samples: number; settled: boolean; errorRate?: number }>,
  at = 1_000,
): AgreedFigures =>
  ({
    at,
    error: 0.002,
    layers: {},
    instances: Object.fromEntries(Object.entries(instances).map(([i, f]) => [i, { R2: f }])),
  }) as unknown as AgreedFigures;

describe('conditions', () => {
  test('comparisons, bands and "within P% of"', () => {
    expect(parseCondition('result < 0.01').test(0.009)).toBe(true);
    expect(parseCondition('result < 0.01').test(0.01)).toBe(false);
    const band = parseCondition('result >= 1.85 and result <= 2.30');
    expect([band.test(1.84), band.test(2), band.test(2.31)]).toEqual([false, true, false]);
    const within = parseCondition('result within 10% of 2.07');
    expect(within.threshold).toBe('within 10% of 2.07 (1.863–2.277)');
    expect([within.test(1.86), within.test(2.27), within.test(2.28)]).toEqual([false, true, false]);
    expect(parseCondition('result > 0').test(Number.NaN)).toBe(false);
  });
});

describe('the triad provider (Argo semantics)', () => {
  const alpha = metric({
    successCondition: 'result within 10% of 2.07',
    provider: { triad: { figure: 'amplification', layer: 'R2' } },
  });
  const base = { now: 2_000, maxSampleAgeMs: 10_000, minSamples: 10, members: ['alpha', 'beta'] };
  test('every instance running the layer is judged; the worst one is reported', () => {
    const m = measureTriad(alpha, {
      ...base,
      agreed: figures({
        alpha: { amplification: 2.05, samples: 20, settled: true },
        beta: { amplification: 1.2, samples: 20, settled: true },
      }),
      active: () => true,
    });
    expect(m).toEqual({
      phase: 'FAIL',
      value: 1.2,
      detail: 'R2 on beta: 1.2 (needs within 10% of 2.07 (1.863–2.277))',
    });
  });
  test('too few samples, an unsettled window or stale figures are INCONCLUSIVE, never PASS', () => {
    const ok = { amplification: 2.07, samples: 20, settled: true };
    expect(
      measureTriad(alpha, { ...base, agreed: figures({ alpha: { ...ok, samples: 3 }, beta: ok }), active: () => true }),
    ).toMatchObject({ phase: 'INCONCLUSIVE' });
    expect(
      measureTriad(alpha, {
        ...base,
        agreed: figures({ alpha: { ...ok, settled: false }, beta: ok }),
        active: () => true,
      }),
    ).toMatchObject({ phase: 'INCONCLUSIVE' });
    expect(
      measureTriad(alpha, { ...base, now: 60_000, agreed: figures({ alpha: ok, beta: ok }), active: () => true }),
    ).toMatchObject({ phase: 'INCONCLUSIVE' });
    expect(measureTriad(alpha, { ...base, agreed: undefined, active: () => true })).toMatchObject({
      phase: 'INCONCLUSIVE',
    });
    expect(
      measureTriad(alpha, { ...base, agreed: figures({ alpha: ok, beta: ok }), active: () => true }),
    ).toMatchObject({ phase: 'PASS', value: 2.07 });
  });
  test('a layer active nowhere is skipped, not judged', () => {
    expect(measureTriad(alpha, { ...base, agreed: figures({}), active: () => false })).toBe('skip');
  });
});

describe('the prometheus provider', () => {
  const check = metric({
    successCondition: 'result < 0.01',
    provider: { prometheus: { address: 'http://prom', query: 'x' } },
  });
  const answer = (status: number, body: unknown) =>
    (() => Promise.resolve(new Response(JSON.stringify(body), { status }))) as unknown as typeof fetch;
  test('an empty vector is INCONCLUSIVE, a failed query ERROR, a vector judged element by element', async () => {
    expect(
      await measurePrometheus(check, {
        timeoutMs: 100,
        fetch: answer(200, { status: 'success', data: { resultType: 'vector', result: [] } }),
      }),
    ).toMatchObject({ phase: 'INCONCLUSIVE' });
    expect(
      await measurePrometheus(check, { timeoutMs: 100, fetch: answer(400, { status: 'error', error: 'parse error' }) }),
    ).toMatchObject({ phase: 'ERROR', detail: 'prometheus answered 400: parse error' });
    const vector = (values: string[]) =>
      answer(200, {
        status: 'success',
        data: {
          resultType: 'vector',
          result: values.map((v, i) => ({ metric: { instance: `n${i}` }, value: [0, v] })),
        },
      });
    expect(await measurePrometheus(check, { timeoutMs: 100, fetch: vector(['0.001', '0.002']) })).toMatchObject({
      phase: 'PASS',
    });
    expect(await measurePrometheus(check, { timeoutMs: 100, fetch: vector(['0.001', '0.5']) })).toMatchObject({
      phase: 'FAIL',
      value: 0.5,
      detail: '{instance="n1"}: 0.5 (needs < 0.01)',
    });
  });
});

describe('limits', () => {
  const m = metric({
    successCondition: 'result < 1',
    failureLimit: 1,
    inconclusiveLimit: 2,
    consecutiveErrorLimit: 1,
    provider: { triad: { figure: 'consensus_error' } },
  });
  const p = (...phases: ('PASS' | 'FAIL' | 'INCONCLUSIVE' | 'ERROR')[]) =>
    phases.map((phase) => ({ phase, detail: '' }));
  test('failures, inconclusive results and consecutive errors over their limits', () => {
    expect(verdict(m, tally(p('FAIL', 'PASS')))).toBe('running');
    expect(verdict(m, tally(p('FAIL', 'PASS', 'FAIL')))).toBe('failed');
    expect(verdict(m, tally(p('INCONCLUSIVE', 'INCONCLUSIVE', 'PASS', 'INCONCLUSIVE')))).toBe('inconclusive');
    expect(verdict(m, tally(p('ERROR', 'PASS', 'ERROR')))).toBe('running');
    expect(verdict(m, tally(p('ERROR', 'ERROR')))).toBe('error');
    expect(verdict({ ...m, dryRun: true }, tally(p('FAIL', 'FAIL', 'FAIL')))).toBe('running');
  });
});

describe('bucketing (Unleash-compatible, version 1)', () => {
  test("Unleash's cross-SDK vectors", () => {
    expect(bucketOf('123', 'gr1')).toBe(73);
    expect(bucketOf('999', 'groupX')).toBe(25);
  });
  test('MurmurHash3 x86_32 reference values', () => {
    expect(murmurHash3x86_32('', 0)).toBe(0);
    expect(murmurHash3x86_32('', 1)).toBe(0x514e28b7);
    expect(murmurHash3x86_32('hello', 0)).toBe(0x248bfa47);
    expect(murmurHash3x86_32('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });
  test('a key in at 10 % stays in at 25 %, 50 % and 100 %', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (key, group, low, extra) => {
          const high = Math.min(100, low + extra);
          if (inRollout(key, group, low)) expect(inRollout(key, group, high)).toBe(true);
        },
      ),
    );
  });
  test('about P % of keys are in at P %', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const share = keys.filter((k) => inRollout(k, 'R2', 10)).length / keys.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
  });
});
