import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig, resolveTiming, type LayerId } from '../../../src/config/index.js';
import { detectionBudgets, TriggerEvaluator, type InstanceLayerFigures } from '../../../src/layer-manager/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const hour = 3_600_000;
/** The timing in force for a profile, as a node resolves it from its config (production: a 5-minute window). */
const timing = (profile: 'production' | 'demo', windowMs = 300_000, demoWindowMs = 10_000) =>
  resolveTiming(
    {
      runtime: { windowMs, demoWindowMs },
      consensus: { intervalMs: 10_000, demoIntervalMs: 1_000, epsilon: 1e-6, roundTimeoutMs: 500 },
    },
    layers,
    profile,
  );
const day = 24 * hour;
const t0 = Date.UTC(2026, 5, 1);

/** One epoch's inputs: alpha..gamma with R1–R5 active; `r5` is gamma's R5 figures, the others are healthy. */
function inputs(now: number, gammaR5: InstanceLayerFigures | undefined, consensusError = 0) {
  const healthy: Record<string, InstanceLayerFigures> = {
    R1: { amplification: 1, errorRate: 0, samples: 50, settled: true },
    R2: { amplification: 2.07, errorRate: 0, samples: 50, settled: true },
    R3: { amplification: 3.28, errorRate: 0, samples: 50, settled: true },
    R4: { amplification: 2.2, errorRate: 0, samples: 50, settled: true },
    R5: { amplification: 4.95, errorRate: 0, samples: 50, settled: true },
  };
  return {
    now,
    instances: ['alpha', 'beta', 'gamma'],
    active: (_i: string, l: LayerId) => l !== 'R6',
    figures: (i: string, l: LayerId) => (i === 'gamma' && l === 'R5' ? gammaR5 : healthy[l]),
    consensusError,
  };
}

describe('rollback triggers (injected clock, no sleeping)', () => {
  test('a 40 % amplification drop on gamma R5 fires after holding 1h — exactly once, for gamma only', () => {
    const evaluator = new TriggerEvaluator(layers, timing('production'));
    const degraded = { amplification: 2.97, errorRate: 0, samples: 50, settled: true };
    expect(evaluator.evaluate(inputs(t0, degraded))).toEqual([]);
    expect(evaluator.evaluate(inputs(t0 + 59 * 60_000, degraded))).toEqual([]);
    const fired = evaluator.evaluate(inputs(t0 + hour, degraded));
    expect(fired.map((f) => [f.trigger.id, f.layer, f.instance, f.heldMs])).toEqual([
      ['amplification_degraded', 'R5', 'gamma', hour],
    ]);
    expect(fired[0]?.value).toBeCloseTo(0.4, 2);
    // Still holding an epoch later: not fired again.
    expect(evaluator.evaluate(inputs(t0 + hour + 10_000, degraded))).toEqual([]);
  });

  test('a hold that breaks starts over; a recovered metric fires nothing and activates nothing', () => {
    const evaluator = new TriggerEvaluator(layers, timing('production'));
    const degraded = { amplification: 2.97, errorRate: 0, samples: 50, settled: true };
    evaluator.evaluate(inputs(t0, degraded));
    expect(
      evaluator.evaluate(inputs(t0 + 50 * 60_000, { amplification: 4.9, errorRate: 0, samples: 50, settled: true })),
    ).toEqual([]);
    expect(evaluator.evaluate(inputs(t0 + 61 * 60_000, degraded))).toEqual([]); // a new hold, 0 min old
    expect(evaluator.evaluate(inputs(t0 + 121 * 60_000, degraded)).map((f) => f.trigger.id)).toEqual([
      'amplification_degraded',
    ]);
  });

  test('no data or too few samples is not a condition: it ends the hold instead of extending it', () => {
    const evaluator = new TriggerEvaluator(layers, timing('production'));
    evaluator.evaluate(inputs(t0, { amplification: 2.0, errorRate: 0, samples: 50, settled: true }));
    expect(evaluator.evaluate(inputs(t0 + 2 * hour, undefined))).toEqual([]);
    expect(
      evaluator.evaluate(inputs(t0 + 3 * hour, { amplification: 2.0, errorRate: 0, samples: 2, settled: true })),
    ).toEqual([]);
  });

  test('R5 consensus divergence fires on every instance running R5 after 5 minutes', () => {
    const evaluator = new TriggerEvaluator(layers, timing('production'));
    const healthyR5 = { amplification: 4.95, errorRate: 0, samples: 50, settled: true };
    evaluator.evaluate(inputs(t0, healthyR5, 0.2));
    const fired = evaluator.evaluate(inputs(t0 + 5 * 60_000, healthyR5, 0.2));
    expect(fired.map((f) => `${f.trigger.id}:${f.layer}:${f.instance}`)).toEqual([
      'r5_consensus_divergence:R5:alpha',
      'r5_consensus_divergence:R5:beta',
      'r5_consensus_divergence:R5:gamma',
    ]);
  });

  test('the demo profile compresses "2 days" to seconds', () => {
    // A 2 s demo window: the hold is the compressed 2 days (3.456 s), longer than the window.
    const evaluator = new TriggerEvaluator(layers, timing('demo', 300_000, 2_000));
    const low = { R3: { amplification: 1.9, errorRate: 0, samples: 50, settled: true } };
    const epoch = (now: number) => ({
      ...inputs(now, undefined),
      figures: (i: string, l: LayerId) => (i === 'alpha' && l === 'R3' ? low.R3 : undefined),
    });
    const collapse = (now: number) => evaluator.evaluate(epoch(now)).filter((f) => f.trigger.id === 'r3_beta_collapse');
    collapse(t0);
    expect(collapse(t0 + 3_000)).toEqual([]);
    expect(collapse(t0 + 3_500).map((f) => `${f.layer}:${f.instance}`)).toEqual(['R3:alpha']);
    expect((2 * day) / 50_000).toBe(3_456);
  });
});

test('detection budget: window + for + evaluation interval, fastest first', () => {
  const budgets = detectionBudgets('R3', layers, timing('production'));
  expect(budgets).toEqual([
    { triggerId: 'dwcp_error_rate', forMs: 300_000, budgetMs: 300_000 + 300_000 + 10_000 },
    { triggerId: 'dwcp_latency_p99', forMs: 300_000, budgetMs: 300_000 + 300_000 + 10_000 },
    { triggerId: 'dwcp_throughput', forMs: 600_000, budgetMs: 300_000 + 600_000 + 10_000 },
    { triggerId: 'error_rate_high', forMs: hour, budgetMs: 300_000 + hour + 10_000 },
    { triggerId: 'amplification_degraded', forMs: hour, budgetMs: 300_000 + hour + 10_000 },
    { triggerId: 'r3_beta_collapse', forMs: 2 * day, budgetMs: 300_000 + 2 * day + 10_000 },
  ]);
  expect(detectionBudgets('R1', layers, timing('production')).map((b) => b.triggerId)).toEqual([
    'dwcp_error_rate',
    'dwcp_latency_p99',
    'dwcp_throughput',
    'error_rate_high',
  ]);
});

test('demo detection budget: a hold is never shorter than the 10 s window it reads (1 h compresses to 72 ms)', () => {
  expect(detectionBudgets('R5', layers, timing('demo'))).toEqual([
    { triggerId: 'r5_consensus_divergence', forMs: 1_000, budgetMs: 1_000 + 1_000 }, // 5 m → the 1 s floor; no window
    { triggerId: 'error_rate_high', forMs: 10_000, budgetMs: 10_000 + 10_000 + 1_000 },
    { triggerId: 'amplification_degraded', forMs: 10_000, budgetMs: 10_000 + 10_000 + 1_000 },
    { triggerId: 'dwcp_error_rate', forMs: 10_000, budgetMs: 10_000 + 10_000 + 1_000 },
    { triggerId: 'dwcp_latency_p99', forMs: 10_000, budgetMs: 10_000 + 10_000 + 1_000 },
    { triggerId: 'dwcp_throughput', forMs: 10_000, budgetMs: 10_000 + 10_000 + 1_000 },
  ]);
});

describe('a window that spans a change cannot be judged', () => {
  const mixed = { amplification: 1.2, errorRate: 0, samples: 50, settled: false };
  const degraded = { amplification: 1.2, errorRate: 0, samples: 50, settled: true };

  test('an unsettled figure never fires, however long it lasts, and ends a hold in progress', () => {
    const evaluator = new TriggerEvaluator(layers, timing('production'));
    for (let minute = 0; minute <= 120; minute += 5)
      expect(evaluator.evaluate(inputs(t0 + minute * 60_000, mixed))).toEqual([]);
    evaluator.evaluate(inputs(t0 + 3 * hour, degraded));
    expect(evaluator.evaluate(inputs(t0 + 3 * hour + 59 * 60_000, mixed))).toEqual([]);
    // The hold started over when the window was unsettled: a further hour is needed from here.
    expect(evaluator.evaluate(inputs(t0 + 4 * hour, degraded))).toEqual([]);
    expect(evaluator.evaluate(inputs(t0 + 5 * hour, degraded)).map((f) => `${f.trigger.id}:${f.instance}`)).toEqual([
      'amplification_degraded:gamma',
    ]);
  });

  test('demo: too few samples for the demo minimum (10) is not judged; 18 of a 10 s window is', () => {
    const evaluator = new TriggerEvaluator(layers, timing('demo'));
    evaluator.evaluate(inputs(t0, { ...degraded, samples: 9 }));
    expect(evaluator.evaluate(inputs(t0 + 20_000, { ...degraded, samples: 9 }))).toEqual([]);
    evaluator.evaluate(inputs(t0 + 30_000, { ...degraded, samples: 18 }));
    expect(evaluator.evaluate(inputs(t0 + 39_000, { ...degraded, samples: 18 }))).toEqual([]);
    expect(evaluator.evaluate(inputs(t0 + 40_000, { ...degraded, samples: 18 })).map((f) => f.heldMs)).toEqual([
      10_000,
    ]);
  });
});
