import fc from 'fast-check';
import jStat from 'jstat';
import { describe, expect, test } from 'vitest';
import { judgeCanary, type CohortSample } from '../../../src/canary/index.js';
import { hodgesLehmann, mannWhitney, proportionDifference } from '../../../src/canary/statistics.js';

/** mulberry32: a seeded uniform stream, so every property run draws the same cohorts for the same seed. */
function uniforms(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 2 ** 32;
  };
}

/** A cohort with log-normal latencies (median `medianMs`), burden per operation around 0.5 h, and an error rate. */
function cohort(seed: number, n: number, medianMs: number, errorRate = 0.01): CohortSample {
  const u = uniforms(seed);
  const durationsMs: number[] = [];
  const burdenHours: number[] = [];
  let errors = 0;
  for (let i = 0; i < n; i++) {
    durationsMs.push(jStat.lognormal.inv(u(), Math.log(medianMs), 0.5));
    const failed = u() < errorRate;
    if (failed) errors++;
    burdenHours.push(failed ? 0 : jStat.lognormal.inv(u(), Math.log(0.5), 0.3));
  }
  return { durationsMs, burdenHours, operations: n, errors };
}

describe('statistics', () => {
  test('Mann-Whitney U counts the pairs where x wins, ties as one half', () => {
    expect(mannWhitney([1, 2, 3], [4, 5, 6]).u).toBe(0);
    expect(mannWhitney([4, 5, 6], [1, 2, 3]).u).toBe(9);
    expect(mannWhitney([1, 2], [2, 3]).u).toBe(0.5);
    expect(mannWhitney([5, 5, 5], [5, 5, 5])).toEqual({ u: 4.5, z: 0, pValue: 1 });
  });

  test('Mann-Whitney p-value matches the textbook normal approximation', () => {
    // x = 1..10, y = 11..20: U = 0, mean 50, sd √(100·21/12) = 13.229; continuity-corrected z = −49.5/13.229.
    const r = mannWhitney(
      Array.from({ length: 10 }, (_, i) => i + 1),
      Array.from({ length: 10 }, (_, i) => i + 11),
    );
    expect(r.z).toBeCloseTo(-49.5 / Math.sqrt((100 * 21) / 12), 9);
    expect(r.pValue).toBeCloseTo(0.000183, 5);
  });

  test('Hodges-Lehmann recovers a constant shift exactly, with an interval around it', () => {
    const y = Array.from({ length: 40 }, (_, i) => i * 1.7);
    const x = y.map((v) => v + 10);
    const s = hodgesLehmann(x, y, 0.95);
    expect(s.estimate).toBe(10);
    expect(s.lower).toBeLessThan(10);
    expect(s.upper).toBeGreaterThan(10);
  });

  test("Newcombe's interval stays wide at zero errors instead of collapsing to a point", () => {
    const d = proportionDifference(0, 50, 0, 50, 0.95);
    expect(d.estimate).toBe(0);
    expect(d.upper).toBeGreaterThan(0.05);
    expect(d.lower).toBeLessThan(-0.05);
  });
});

describe('judgeCanary', () => {
  const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });

  test('identical cohorts FAIL no more often than the stated false-positive rate, over 300 seeds', () => {
    // Each check FAILs identical cohorts with probability ≤ (1 − confidence)/2 = 2.5 %; three checks, ≤ 7.5 % in all.
    // (Property runs get 60 s: the machine is shared, and each run ranks and pairs up to 400² values.)
    // 300 draws at 7.5 % exceed 40 FAILs with probability < 10⁻⁴, so the bound below fails only for a real bug.
    let fails = 0;
    let runs = 0;
    fc.assert(
      fc.property(seeds, fc.integer({ min: 30, max: 400 }), (seed, n) => {
        runs++;
        const r = judgeCanary(cohort(seed, n, 40), cohort(seed ^ 0x5bd1e995, n, 40));
        if (r.verdict === 'FAIL') fails++;
      }),
      { seed: 20_261_202, numRuns: 300 },
    );
    expect(runs).toBe(300);
    expect(fails).toBeLessThanOrEqual(40);
  }, 60_000);

  test('identical cohorts never FAIL on latency once the threshold sits above "no change"', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: 30, max: 400 }), (seed, n) => {
        const r = judgeCanary(cohort(seed, n, 40), cohort(seed + 1, n, 40));
        expect(r.checks.find((c) => c.metric === 'latency')!.verdict).not.toBe('FAIL');
      }),
      { seed: 7, numRuns: 100 },
    );
  }, 60_000);

  test('a 2× latency shift with enough samples always FAILs, with the effect near 2', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: 150, max: 400 }), (seed, n) => {
        const r = judgeCanary(cohort(seed, n, 80), cohort(seed + 1, n, 40));
        expect(r.verdict).toBe('FAIL');
        expect(r.metric).toBe('latency');
        expect(r.effect).toBeGreaterThan(1.6);
        expect(r.effect).toBeLessThan(2.5);
        expect(r.interval[0]).toBeGreaterThan(1.2);
        expect(r.samples).toEqual({ canary: n, control: n });
      }),
      { seed: 11, numRuns: 60 },
    );
  }, 60_000);

  test('too few samples is INCONCLUSIVE, even with a 10× shift', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: 1, max: 29 }), fc.integer({ min: 1, max: 500 }), (seed, few, many) => {
        const r = judgeCanary(cohort(seed, few, 400), cohort(seed + 1, many, 40));
        expect(r.verdict).toBe('INCONCLUSIVE');
        expect(r.checks.every((c) => c.reason.startsWith('too few samples'))).toBe(true);
        expect(r.samples).toEqual({ canary: few, control: many });
      }),
      { seed: 13, numRuns: 100 },
    );
  });

  test('identical cohorts with many samples PASS every check', () => {
    const r = judgeCanary(cohort(1, 1000, 40, 0.005), cohort(2, 1000, 40, 0.005));
    expect(r.checks.map((c) => [c.metric, c.verdict])).toEqual([
      ['latency', 'PASS'],
      ['error_rate', 'PASS'],
      ['amplification', 'PASS'],
    ]);
    expect(r.verdict).toBe('PASS');
  });

  test('a canary failing 20 % of its operations FAILs on the error rate', () => {
    const r = judgeCanary(cohort(3, 400, 40, 0.2), cohort(4, 400, 40, 0.01));
    expect(r.verdict).toBe('FAIL');
    expect(r.metric).toBe('error_rate');
    expect(r.effect).toBeGreaterThan(0.1);
  });

  test('a canary saving half the burden per operation FAILs on amplification', () => {
    const c = cohort(5, 400, 40);
    const r = judgeCanary({ ...c, burdenHours: c.burdenHours.map((h) => h / 2) }, cohort(6, 400, 40));
    expect(r.verdict).toBe('FAIL');
    expect(r.metric).toBe('amplification');
    expect(r.effect).toBeCloseTo(0.5, 1);
  });

  test('out-of-range options are refused with INPUT_INVALID', () => {
    const c = cohort(1, 50, 40);
    expect(() => judgeCanary(c, c, { confidence: 1 })).toThrowErrorMatchingInlineSnapshot(
      `[TriadError: [INPUT_INVALID] canary judge: confidence=1 is out of range (allowed: 0.5 < confidence < 1)]`,
    );
    expect(() => judgeCanary(c, c, { latencyMaxRatio: 0.9 })).toThrow(/INPUT_INVALID.*latencyMaxRatio/);
  });
});

describe('Hodges-Lehmann order statistics', () => {
  test('match those of the fully sorted pairwise differences', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 40 }),
        (x, y) => {
          const d = x.flatMap((a) => y.map((b) => a - b)).sort((p, q) => p - q);
          const n = x.length * y.length;
          const med = n % 2 === 1 ? d[(n - 1) / 2]! : (d[n / 2 - 1]! + d[n / 2]!) / 2;
          const c = Math.floor(n / 2 - 1.959963984540054 * Math.sqrt((n * (x.length + y.length + 1)) / 12));
          const s = hodgesLehmann(x, y, 0.95);
          expect(s.estimate).toBe(med);
          expect(s.lower).toBe(d[Math.max(0, c)]);
          expect(s.upper).toBe(d[Math.min(n - 1, n - 1 - c)]);
        },
      ),
      { seed: 17, numRuns: 300 },
    );
  });
});
