import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig, resolveTiming, type LayerId } from '../../../src/config/index.js';
import {
  TriggerEvaluator,
  type InstanceLayerFigures,
  type LayerPerformance,
} from '../../../src/layer-manager/index.js';
import { ConfigError } from '../../../src/shared/index.js';

const file = 'config/layers.yaml';
const shipped = readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8');
const layers = parseLayersConfig(shipped, file);
const minute = 60_000;
const t0 = Date.UTC(2026, 5, 1);
/** Production timing with the 5-minute window: a hold is max(for, window). */
const timing = resolveTiming(
  {
    runtime: { windowMs: 5 * minute, demoWindowMs: 10_000 },
    consensus: { intervalMs: 10_000, demoIntervalMs: 1_000, epsilon: 1e-6, roundTimeoutMs: 500 },
  },
  layers,
  'production',
);

function errorOf(text: string): ConfigError {
  try {
    parseLayersConfig(text, file);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** The line:col (1-based) of the value after `key` on its line, where the located-YAML errors point. */
function whereOf(text: string, key: string): string {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes(key));
  return `${file}:${line + 1}:${(lines[line] ?? '').indexOf(key) + key.length + 1}`;
}

describe('latency_p99 and throughput triggers in layers.yaml', () => {
  test('the shipped file carries the DWCP thresholds: 3 % errors for 5m, p99 2× baseline for 5m, throughput 80 % for 10m', () => {
    const dwcp = layers.rollbackTriggers.filter((t) => t.id.startsWith('dwcp_'));
    expect(dwcp).toEqual([
      { id: 'dwcp_error_rate', layer: '*', metric: 'error_rate', op: 'above', threshold: 0.03, forMs: 5 * minute },
      {
        id: 'dwcp_latency_p99',
        layer: '*',
        metric: 'latency_p99',
        op: 'above',
        threshold: 2,
        forMs: 5 * minute,
        relativeTo: 'baseline',
      },
      {
        id: 'dwcp_throughput',
        layer: '*',
        metric: 'throughput',
        op: 'below',
        threshold: 0.8,
        forMs: 10 * minute,
        relativeTo: 'baseline',
      },
    ]);
  });

  test('a target throughput parses with its target', () => {
    const text = shipped.replace('below_ratio_of_baseline: 0.8,', 'below_ratio_of_target: 0.8, target: 2.5,');
    expect(parseLayersConfig(text, file).rollbackTriggers.find((t) => t.id === 'dwcp_throughput')).toMatchObject({
      op: 'below',
      threshold: 0.8,
      relativeTo: 'target',
      target: 2.5,
    });
  });

  test('a plain threshold on latency_p99 is rejected where it stands, naming what it takes', () => {
    const text = shipped.replace(
      'metric: latency_p99, above_ratio_of_baseline: 2.0',
      'metric: latency_p99, above: 2.0',
    );
    const issue = errorOf(text).issues[0];
    expect(issue).toMatchObject({
      field: 'rollback_triggers.5.above',
      message: 'metric latency_p99 takes "above_ratio_of_baseline", not "above"',
    });
    expect(issue?.where).toBe(whereOf(text, 'latency_p99, above: '));
  });

  test('a ratio on a plain metric, a target ratio without its target, and a stray target are rejected', () => {
    const ratio = errorOf(
      shipped.replace('metric: error_rate, above: 0.03', 'metric: error_rate, above_ratio_of_baseline: 2'),
    );
    expect(ratio.issues[0]).toMatchObject({
      field: 'rollback_triggers.4.above_ratio_of_baseline',
      message: 'metric error_rate takes "below" or "above", not "above_ratio_of_baseline"',
    });
    const noTarget = errorOf(shipped.replace('below_ratio_of_baseline: 0.8', 'below_ratio_of_target: 0.8'));
    expect(noTarget.issues[0]).toMatchObject({
      field: 'rollback_triggers.6.below_ratio_of_target',
      message: 'below_ratio_of_target needs "target" (operations per second per instance)',
    });
    const stray = errorOf(shipped.replace('below_ratio_of_baseline: 0.8,', 'below_ratio_of_baseline: 0.8, target: 3,'));
    expect(stray.issues[0]).toMatchObject({ message: '"target" is only read by below_ratio_of_target' });
    const both = errorOf(
      shipped.replace('below_ratio_of_baseline: 0.8,', 'below_ratio_of_baseline: 0.8, below_ratio_of_target: 0.5,'),
    );
    expect(both.issues.map((i) => i.message)).toContain(
      'expected exactly one of "below_ratio_of_baseline" or "below_ratio_of_target"',
    );
    const zero = errorOf(shipped.replace('above_ratio_of_baseline: 2.0', 'above_ratio_of_baseline: 0'));
    expect(zero.issues[0]?.message).toBe('expected a ratio > 0');
  });
});

const healthy: InstanceLayerFigures = { amplification: 3.28, errorRate: 0, samples: 100, settled: true };
const baseline = { p99Ms: 25, throughputPerS: 2, samples: 600 };

/** One epoch: alpha..gamma run R3 only; alpha's R3 performance is `alphaR3`, the others match their baseline. */
function epoch(now: number, alphaR3: LayerPerformance | undefined, alphaFigures: InstanceLayerFigures = healthy) {
  return {
    now,
    instances: ['alpha', 'beta', 'gamma'],
    active: (_i: string, l: LayerId) => l === 'R3',
    figures: (i: string) => (i === 'alpha' ? alphaFigures : healthy),
    consensusError: 0,
    performance: (i: string): LayerPerformance | undefined => (i === 'alpha' ? alphaR3 : { ...baseline, baseline }),
  };
}
const ids = (firings: { trigger: { id: string }; layer: string; instance: string }[]) =>
  firings.map((f) => `${f.trigger.id}:${f.layer}:${f.instance}`);

describe('latency and throughput triggers (injected clock, no sleeping)', () => {
  test('p99 at 2.5× the baseline fires after 5 minutes, not before, once per hold, on alpha only', () => {
    const evaluator = new TriggerEvaluator(layers, timing);
    const slow: LayerPerformance = { p99Ms: 62.5, throughputPerS: 2, samples: 600, baseline };
    expect(evaluator.evaluate(epoch(t0, slow))).toEqual([]);
    expect(evaluator.evaluate(epoch(t0 + 4 * minute + 50_000, slow))).toEqual([]);
    const fired = evaluator.evaluate(epoch(t0 + 5 * minute, slow));
    expect(ids(fired)).toEqual(['dwcp_latency_p99:R3:alpha']);
    expect(fired[0]?.value).toBeCloseTo(2.5, 6);
    expect(fired[0]?.heldMs).toBe(5 * minute);
    // Still slow: the same hold never fires twice.
    expect(evaluator.evaluate(epoch(t0 + 6 * minute, slow))).toEqual([]);
    expect(evaluator.evaluate(epoch(t0 + 60 * minute, slow))).toEqual([]);
  });

  test('exactly 2× is not above 2×; 1.9× never fires', () => {
    const evaluator = new TriggerEvaluator(layers, timing);
    for (const p99Ms of [50, 47.5])
      for (let m = 0; m <= 30; m += 5)
        expect(
          evaluator.evaluate(epoch(t0 + m * minute, { p99Ms, throughputPerS: 2, samples: 600, baseline })),
        ).toEqual([]);
  });

  test('throughput at 70 % of the baseline fires after 10 minutes (not after 5), then a recovery ends the hold', () => {
    const evaluator = new TriggerEvaluator(layers, timing);
    const starved: LayerPerformance = { p99Ms: 25, throughputPerS: 1.4, samples: 420, baseline };
    expect(evaluator.evaluate(epoch(t0, starved))).toEqual([]);
    expect(evaluator.evaluate(epoch(t0 + 5 * minute, starved))).toEqual([]);
    expect(evaluator.evaluate(epoch(t0 + 9 * minute, starved))).toEqual([]);
    const fired = evaluator.evaluate(epoch(t0 + 10 * minute, starved));
    expect(ids(fired)).toEqual(['dwcp_throughput:R3:alpha']);
    expect(fired[0]?.value).toBeCloseTo(0.7, 6);
    // Recovered for one epoch: the hold is over, so a new one must last 10 minutes again before firing again.
    evaluator.evaluate(epoch(t0 + 11 * minute, { ...starved, throughputPerS: 2 }));
    expect(evaluator.evaluate(epoch(t0 + 12 * minute, starved))).toEqual([]);
    expect(ids(evaluator.evaluate(epoch(t0 + 22 * minute, starved)))).toEqual(['dwcp_throughput:R3:alpha']);
  });

  test('against a target: 1.5/s is below 80 % of a 2.5/s target whatever the baseline', () => {
    const target = parseLayersConfig(
      shipped.replace('below_ratio_of_baseline: 0.8,', 'below_ratio_of_target: 0.8, target: 2.5,'),
      file,
    );
    const evaluator = new TriggerEvaluator(target, timing);
    const perf: LayerPerformance = { p99Ms: 25, throughputPerS: 1.5, samples: 450 }; // no baseline known
    evaluator.evaluate(epoch(t0, perf));
    const fired = evaluator.evaluate(epoch(t0 + 10 * minute, perf));
    expect(ids(fired)).toEqual(['dwcp_throughput:R3:alpha']);
    expect(fired[0]?.value).toBeCloseTo(0.6, 6);
  });

  test('a window that spans a change is INCONCLUSIVE: no firing however slow, and it ends a hold in progress', () => {
    const evaluator = new TriggerEvaluator(layers, timing);
    const slow: LayerPerformance = { p99Ms: 100, throughputPerS: 0.5, samples: 150, baseline };
    const mixed = { ...healthy, settled: false };
    for (let m = 0; m <= 30; m += 1) expect(evaluator.evaluate(epoch(t0 + m * minute, slow, mixed))).toEqual([]);
    evaluator.evaluate(epoch(t0 + 40 * minute, slow));
    expect(evaluator.evaluate(epoch(t0 + 44 * minute, slow, mixed))).toEqual([]);
    // The hold restarted at 45 min: 5 minutes later, latency fires (throughput needs 10).
    expect(evaluator.evaluate(epoch(t0 + 45 * minute, slow))).toEqual([]);
    expect(ids(evaluator.evaluate(epoch(t0 + 50 * minute, slow)))).toEqual(['dwcp_latency_p99:R3:alpha']);
    expect(ids(evaluator.evaluate(epoch(t0 + 55 * minute, slow)))).toEqual(['dwcp_throughput:R3:alpha']);
  });

  test('no baseline, no figure, or too few operations is never a condition', () => {
    const evaluator = new TriggerEvaluator(layers, timing);
    const cases: (LayerPerformance | undefined)[] = [
      { p99Ms: 100, throughputPerS: 0.5, samples: 150 }, // no baseline yet
      undefined, // operation_history could not be read
      { p99Ms: 100, throughputPerS: 2, samples: 5, baseline }, // below min_samples (20)
      { p99Ms: 100, throughputPerS: 2, samples: 60, baseline }, // a p99 of 60 operations is their maximum: < 100
      { p99Ms: 100, throughputPerS: 2, samples: 600, baseline: { ...baseline, samples: 60 } }, // nor a baseline's
    ];
    for (const perf of cases)
      for (let m = 0; m <= 60; m += 5) expect(evaluator.evaluate(epoch(t0 + m * minute, perf))).toEqual([]);
  });
});
