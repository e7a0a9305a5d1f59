import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig, type LayerId } from '../../../src/config/index.js';
import { detectionBudgets, TriggerEvaluator, type InstanceLayerFigures } from '../../../src/layer-manager/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const hour = 3_600_000;
const day = 24 * hour;
const t0 = Date.UTC(2026, 5, 1);

/** One epoch's inputs: alpha..gamma with R1–R5 active; `r5` is gamma's R5 figures, the others are healthy. */
function inputs(now: number, gammaR5: InstanceLayerFigures | undefined, consensusError = 0) {
  const healthy: Record<string, InstanceLayerFigures> = {
    R1: { amplification: 1, errorRate: 0, samples: 50 },
    R2: { amplification: 2.07, errorRate: 0, samples: 50 },
    R3: { amplification: 3.28, errorRate: 0, samples: 50 },
    R4: { amplification: 2.2, errorRate: 0, samples: 50 },
    R5: { amplification: 4.95, errorRate: 0, samples: 50 },
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
    const evaluator = new TriggerEvaluator(layers, (ms) => ms);
    const degraded = { amplification: 2.97, errorRate: 0, samples: 50 };
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
    const evaluator = new TriggerEvaluator(layers, (ms) => ms);
    const degraded = { amplification: 2.97, errorRate: 0, samples: 50 };
    evaluator.evaluate(inputs(t0, degraded));
    expect(evaluator.evaluate(inputs(t0 + 50 * 60_000, { amplification: 4.9, errorRate: 0, samples: 50 }))).toEqual([]);
    expect(evaluator.evaluate(inputs(t0 + 61 * 60_000, degraded))).toEqual([]); // a new hold, 0 min old
    expect(evaluator.evaluate(inputs(t0 + 121 * 60_000, degraded)).map((f) => f.trigger.id)).toEqual([
      'amplification_degraded',
    ]);
  });

  test('no data or too few samples is not a condition: it ends the hold instead of extending it', () => {
    const evaluator = new TriggerEvaluator(layers, (ms) => ms);
    evaluator.evaluate(inputs(t0, { amplification: 2.0, errorRate: 0, samples: 50 }));
    expect(evaluator.evaluate(inputs(t0 + 2 * hour, undefined))).toEqual([]);
    expect(evaluator.evaluate(inputs(t0 + 3 * hour, { amplification: 2.0, errorRate: 0, samples: 2 }))).toEqual([]);
  });

  test('R5 consensus divergence fires on every instance running R5 after 5 minutes', () => {
    const evaluator = new TriggerEvaluator(layers, (ms) => ms);
    const healthyR5 = { amplification: 4.95, errorRate: 0, samples: 50 };
    evaluator.evaluate(inputs(t0, healthyR5, 0.2));
    const fired = evaluator.evaluate(inputs(t0 + 5 * 60_000, healthyR5, 0.2));
    expect(fired.map((f) => `${f.trigger.id}:${f.layer}:${f.instance}`)).toEqual([
      'r5_consensus_divergence:R5:alpha',
      'r5_consensus_divergence:R5:beta',
      'r5_consensus_divergence:R5:gamma',
    ]);
  });

  test('the demo profile compresses "2 days" to seconds', () => {
    const evaluator = new TriggerEvaluator(layers, (ms) => Math.max(1_000, ms / 50_000));
    const low = { R3: { amplification: 1.9, errorRate: 0, samples: 50 } };
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
  const budgets = detectionBudgets('R3', layers, {
    windowMs: 300_000,
    evaluationIntervalMs: 10_000,
    duration: (ms) => ms,
  });
  expect(budgets).toEqual([
    { triggerId: 'error_rate_high', forMs: hour, budgetMs: 300_000 + hour + 10_000 },
    { triggerId: 'amplification_degraded', forMs: hour, budgetMs: 300_000 + hour + 10_000 },
    { triggerId: 'r3_beta_collapse', forMs: 2 * day, budgetMs: 300_000 + 2 * day + 10_000 },
  ]);
  expect(
    detectionBudgets('R1', layers, { windowMs: 300_000, evaluationIntervalMs: 10_000, duration: (ms) => ms }).map(
      (b) => b.triggerId,
    ),
  ).toEqual(['error_rate_high']);
});
