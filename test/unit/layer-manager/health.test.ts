import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { agreedLayerView, instanceLayerFigures, measurementVector } from '../../../src/consensus/index.js';
import { activate, emptyState, layerHealth, type HealthInputs } from '../../../src/layer-manager/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const members = ['alpha', 'beta', 'gamma'];
const now = Date.UTC(2026, 5, 1);
const state = activate(emptyState(members), {
  layers: ['R1', 'R2', 'R3', 'R4', 'R5'],
  instances: members,
  percentage: 100,
});

/** One instance's snapshot: R1–R5 at the expected ratios, R5 at `r5`. */
function snapshot(r5: number, samples = 40, settled = 1): number[] {
  const figure = (amplification: number) => ({
    amplification,
    error_rate: 0,
    burden_rate: amplification,
    reporting: 1,
    samples,
    settled,
  });
  return measurementVector({
    R1: figure(1),
    R2: figure(2.07),
    R3: figure(3.28),
    R4: figure(2.2),
    R5: figure(r5),
  });
}

function inputs(snapshots: Record<string, number[]>): HealthInputs {
  const mean = snapshot(0).map((_, k) => members.reduce((s, m) => s + (snapshots[m]?.[k] ?? 0), 0) / members.length);
  return {
    config: layers,
    minSamples: 20,
    layers: ['R5'],
    desired: { version: 7, state },
    instances: members.map((instance) => ({
      instance,
      reachable: true,
      appliedVersion: 7,
      appliedLayers: ['R1', 'R2', 'R3', 'R4', 'R5'],
    })),
    agreed: {
      at: now,
      error: 0,
      layers: agreedLayerView(mean, members.length),
      instances: Object.fromEntries(members.map((m) => [m, instanceLayerFigures(snapshots[m] ?? [])])),
    },
    consensus: { error: 0, converged: true, at: now },
  };
}

describe('check-health judges each instance on its own figures', () => {
  test('gamma at 2.41 fails R5 although the cluster mean (4.10) is inside the band', () => {
    const report = layerHealth(inputs({ alpha: snapshot(4.95), beta: snapshot(4.95), gamma: snapshot(2.41) }));
    const r5 = report.layers[0]!;
    expect(r5.amplification).toBeCloseTo(4.1, 2);
    expect(r5.status).toBe('FAIL');
    expect(r5.problems).toEqual(['gamma: amplification 2.41 below alert threshold 4']);
    expect(r5.instances.map((i) => [i.instance, i.status, i.amplification])).toEqual([
      ['alpha', 'OK', 4.95],
      ['beta', 'OK', 4.95],
      ['gamma', 'FAIL', 2.41],
    ]);
    expect(report.healthy).toBe(false);
  });

  test('an instance outside the acceptable band but above the alert threshold warns', () => {
    const r5 = layerHealth(inputs({ alpha: snapshot(4.95), beta: snapshot(6.2), gamma: snapshot(4.95) })).layers[0]!;
    expect(r5.status).toBe('WARN');
    expect(r5.instances.find((i) => i.instance === 'beta')).toMatchObject({
      status: 'WARN',
      problems: ['beta: amplification 6.20 outside 4–5.9'],
    });
  });

  test('an unsettled window or too few samples is UNKNOWN for that instance, never OK, and judges nothing', () => {
    const report = layerHealth(inputs({ alpha: snapshot(4.95), beta: snapshot(2.0, 40, 0), gamma: snapshot(2.0, 5) }));
    const r5 = report.layers[0]!;
    expect(r5.instances.map((i) => [i.instance, i.status, i.problems])).toEqual([
      ['alpha', 'OK', []],
      ['beta', 'UNKNOWN', ['beta: window spans a recent change: not judged until it turns over']],
      ['gamma', 'UNKNOWN', ['gamma: 5 operations in the window, need 20 to judge']],
    ]);
    // The agreed mean (2.98) mixes beta's unsettled window in: it is not judged either, only noted.
    expect(r5.status).toBe('WARN');
    expect(r5.problems).toEqual(['the window spans a recent change on an instance: not judged until it turns over']);
  });

  test('each instance row takes its verdict apart: measured value, threshold, samples and status per criterion', () => {
    const report = layerHealth(inputs({ alpha: snapshot(4.95), beta: snapshot(6.2), gamma: snapshot(2.0, 5) }));
    const byInstance = Object.fromEntries(report.layers[0]!.instances.map((i) => [i.instance, i]));
    const rows = (instance: string) =>
      byInstance[instance]!.checks.map((c) => [c.check, c.status, c.measured, c.threshold, c.samples]);
    expect(byInstance.alpha!.atMs).toBe(now);
    expect(rows('alpha')).toEqual([
      ['samples', 'PASS', '40', '≥ 20 operations', 40],
      ['settled', 'PASS', 'settled', 'window settled', 40],
      ['amplification', 'PASS', '4.95', '4–5.9 (FAIL below 4)', 40],
      ['error_rate', 'PASS', '0.00%', '< 1% (FAIL above 5%)', 40],
    ]);
    expect(rows('beta')[2]).toEqual(['amplification', 'WARN', '6.20', '4–5.9 (FAIL below 4)', 40]);
    // Too few samples: the figure is shown but not judged, and the samples row says why.
    expect(rows('gamma').map((r) => r.slice(0, 3))).toEqual([
      ['samples', 'UNKNOWN', '5'],
      ['settled', 'PASS', 'settled'],
      ['amplification', 'UNKNOWN', '2.00'],
      ['error_rate', 'UNKNOWN', '0.00%'],
    ]);
  });
});
