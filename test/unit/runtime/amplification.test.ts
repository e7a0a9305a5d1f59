import { describe, expect, test } from 'vitest';
import { layerIds, type LayerId } from '../../../src/config/index.js';
import { amplificationByLayer, inCohort, SlidingWindow, type LayerFigures } from '../../../src/runtime/index.js';

const none: LayerFigures = { ops: 0, errors: 0, burdenHours: 0, rate: 0, normalisedRate: 0 };
const figures = (rates: Partial<Record<LayerId, number>>) =>
  Object.fromEntries(
    layerIds.map((l) => [
      l,
      rates[l] === undefined
        ? none
        : { ops: 10, errors: 0, burdenHours: rates[l], rate: rates[l], normalisedRate: rates[l] },
    ]),
  ) as Record<LayerId, LayerFigures>;

describe('amplification (DESIGN §4)', () => {
  test('a window with no data yields no figure at all: no division by zero, no NaN', () => {
    const result = amplificationByLayer(figures({}));
    expect(result).toEqual({});
    expect(Object.values(result).some((v) => Number.isNaN(v))).toBe(false);
  });

  test('R1 is 1; each layer is its rate over the one below; a gap stops the chain', () => {
    const chain = amplificationByLayer(figures({ R1: 2, R2: 4.14, R3: 4.14 * 3.28 }));
    expect(Object.keys(chain)).toEqual(['R1', 'R2', 'R3']);
    expect(chain.R1).toBe(1);
    expect(chain.R2).toBeCloseTo(2.07, 9);
    expect(chain.R3).toBeCloseTo(3.28, 9);
    expect(amplificationByLayer(figures({ R1: 2, R3: 6 }))).toEqual({ R1: 1 });
    expect(amplificationByLayer(figures({ R2: 2 }))).toEqual({});
  });

  test('rates are normalised by rollout share, so a 10 % canary is not read as a collapse', () => {
    const f = figures({ R1: 1, R2: 0.207 });
    f.R2 = { ...f.R2, normalisedRate: 0.207 / 0.1 };
    expect(amplificationByLayer(f).R2).toBeCloseTo(2.07, 12);
  });
});

describe('sliding window', () => {
  test('sums what arrived within the window and forgets what is older', () => {
    const w = new SlidingWindow(10_000);
    const t0 = 1_000_000_000;
    w.add('F', t0, 1, true, 5);
    w.add('F', t0 + 4_000, 2, false, 7);
    expect(w.totals('F', t0 + 5_000)).toEqual({ ops: 2, errors: 1, burdenHours: 3, durationMs: 12 });
    expect(w.totals('F', t0 + 12_000)).toEqual({ ops: 1, errors: 1, burdenHours: 2, durationMs: 7 });
    expect(w.totals('F', t0 + 30_000)).toEqual({ ops: 0, errors: 0, burdenHours: 0, durationMs: 0 });
    expect(w.totals('unknown', t0)).toEqual({ ops: 0, errors: 0, burdenHours: 0, durationMs: 0 });
  });

  test('its span runs from the oldest whole second it sums until now: a second short of the window at most', () => {
    const w = new SlidingWindow(10_000);
    const t0 = 1_000_000_000;
    w.add('F', t0 + 2_500, 1, true, 5); // in the second that starts at t0 + 2 s
    // At t0 + 12 s the seconds from t0 + 3 s on are summed (9 s); 400 ms later still those, now 9.4 s.
    expect([w.totals('F', t0 + 12_000).ops, w.spanMs(t0 + 12_000)]).toEqual([0, 9_000]);
    expect(w.spanMs(t0 + 12_400)).toBe(9_400);
    expect(w.spanMs(t0 + 12_999)).toBe(9_999);
    expect([w.totals('F', t0 + 11_999).ops, w.spanMs(t0 + 11_999)]).toEqual([1, 9_999]);
  });
});

describe('percentage rollout cohorts', () => {
  test('sticky: a key is in or out the same way every time', () => {
    const keys = Array.from({ length: 200 }, (_, i) => `alpha:R3_X:${i}`);
    expect(keys.map((k) => inCohort(k, 'R3', 25))).toEqual(keys.map((k) => inCohort(k, 'R3', 25)));
    // Pinned, not recomputed: a cohort must survive restarts and upgrades, so the hash behind it may never change.
    const first = Array.from({ length: 20 }, (_, i) => i);
    const at25 = (layer: string) => first.filter((i) => inCohort(`alpha:R3_X:${i}`, layer, 25));
    expect(at25('R3')).toEqual([2, 9, 10, 11, 13, 18]);
    expect(first.filter((i) => !at25('R3').includes(i))).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 17, 19]);
    // Each layer draws its own cohort: the same keys are not first in line on every layer.
    expect(at25('R4')).toEqual([0, 2, 4, 5, 12, 14, 18, 19]);
  });

  test('a layer at P % runs for about P % of keys, and raising P only adds keys', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `beta:F:${i}`);
    const at10 = keys.filter((k) => inCohort(k, 'R2', 10));
    const at50 = keys.filter((k) => inCohort(k, 'R2', 50));
    expect(at10.length / keys.length).toBeGreaterThan(0.08);
    expect(at10.length / keys.length).toBeLessThan(0.12);
    expect(at50.length / keys.length).toBeGreaterThan(0.47);
    expect(at10.every((k) => at50.includes(k))).toBe(true);
    expect(keys.every((k) => inCohort(k, 'R2', 100))).toBe(true);
    expect(keys.some((k) => inCohort(k, 'R2', 0))).toBe(false);
  });
});
