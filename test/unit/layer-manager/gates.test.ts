import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig, type LayerId } from '../../../src/config/index.js';
import { agreedLayerView, instanceLayerFigures, measurementVector } from '../../../src/consensus/index.js';
import {
  activate,
  BandTracker,
  emergencyDisable,
  emptyState,
  evaluateGates,
  type GateInputs,
} from '../../../src/layer-manager/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const day = 86_400_000;
const now = Date.UTC(2026, 5, 1);
const members = ['alpha', 'beta', 'gamma'];
const stage1 = activate(emptyState(members), { layers: ['R1', 'R2'], instances: members, percentage: 100 });

/** Agreed figures as the consensus would deliver them: every instance reports R1 and R2 with these values. */
function agreed(r2Amplification: number, errorRate = 0.001, samples = 100, at = now, settled = 1) {
  const vector = measurementVector({
    R1: { amplification: 1, error_rate: errorRate, burden_rate: 1, reporting: 1, samples, settled },
    R2: {
      amplification: r2Amplification,
      error_rate: errorRate,
      burden_rate: r2Amplification,
      reporting: 1,
      samples,
      settled,
    },
  });
  const own = instanceLayerFigures(vector);
  return {
    at,
    error: 0,
    layers: agreedLayerView(vector, 1),
    instances: Object.fromEntries(members.map((m) => [m, own])),
  };
}

const production = { duration: (ms: number) => ms, maxSampleAgeMs: 300_000, minSamples: 20, windowMs: 300_000 };

function inputs(overrides: Partial<GateInputs> = {}): GateInputs {
  return {
    config: layers,
    timing: production,
    now,
    before: stage1,
    after: activate(stage1, { layers: ['R3'], instances: ['alpha'], percentage: 100 }),
    activeSince: () => now - 8 * day,
    agreed: agreed(2.07),
    bands: new BandTracker(),
    reachable: () => true,
    ...overrides,
  };
}

const target = [{ instance: 'alpha', layer: 'R3' as LayerId }];
const statusOf = (checks: ReturnType<typeof evaluateGates>) =>
  Object.fromEntries(checks.map((c) => [`${c.check}:${c.layer}:${c.instance}`, c.status]));

describe('gates for R3 (stage 2) on alpha', () => {
  test('everything in order: every check passes', () => {
    const checks = evaluateGates(target, inputs());
    expect(checks.every((c) => c.status === 'PASS')).toBe(true);
    expect(statusOf(checks)).toEqual({
      'requires:R3:alpha': 'PASS',
      'healthy:R3:alpha': 'PASS',
      'lock:R3:*': 'PASS',
      'stable:R1:alpha': 'PASS',
      'error_rate:R1:*': 'PASS',
      'error_rate:R1:alpha': 'PASS',
      'stable:R2:alpha': 'PASS',
      'amplification:R2:*': 'PASS',
      'error_rate:R2:*': 'PASS',
      'amplification:R2:alpha': 'PASS',
      'error_rate:R2:alpha': 'PASS',
      'consensus:R3:*': 'PASS',
    });
  });

  test('stage 1 active for 6 days of the 7 needed fails the stable check with the measured time', () => {
    const checks = evaluateGates(target, inputs({ activeSince: () => now - 6 * day }));
    const stable = checks.find((c) => c.check === 'stable' && c.layer === 'R2');
    expect(stable).toMatchObject({ status: 'FAIL', measured: 'active 6d', threshold: 'stage 1 active ≥ 7d' });
  });

  test('the demo profile compresses the window: 13 seconds of stage 1 pass a 7-day gate scaled by 1/50,000', () => {
    const demo = (ms: number) => Math.max(1_000, ms / 50_000);
    const stable = (duration: (ms: number) => number) =>
      evaluateGates(target, inputs({ activeSince: () => now - 13_000, timing: { ...production, duration } })).find(
        (c) => c.check === 'stable' && c.layer === 'R2',
      );
    expect(stable(demo)).toMatchObject({ status: 'PASS', threshold: 'stage 1 active ≥ 12.1s' });
    expect(stable((ms) => ms)?.status).toBe('FAIL');
  });

  test('no data, stale data and too few samples are INCONCLUSIVE and say what is missing, never PASS', () => {
    const none = evaluateGates(target, inputs({ agreed: undefined }));
    expect(none.find((c) => c.check === 'consensus')).toMatchObject({
      status: 'INCONCLUSIVE',
      detail: 'no consensus epoch yet',
    });
    expect(none.find((c) => c.check === 'amplification')).toMatchObject({
      status: 'INCONCLUSIVE',
      detail: 'no consensus epoch yet',
    });
    const stale = evaluateGates(target, inputs({ agreed: agreed(2.07, 0.001, 100, now - 10 * 60_000) }));
    expect(stale.find((c) => c.check === 'amplification')).toMatchObject({
      status: 'INCONCLUSIVE',
      detail: 'agreed figures are 10m old (max 5m)',
    });
    const few = evaluateGates(target, inputs({ agreed: agreed(2.07, 0.001, 5) }));
    expect(few.find((c) => c.check === 'amplification')).toMatchObject({
      status: 'INCONCLUSIVE',
      samples: 5,
      detail: '5 operations in the window, need 20',
    });
  });

  test('a window that spans a change of R2 or R1 is INCONCLUSIVE until it turns over, on the cluster and the instance', () => {
    const mixed = evaluateGates(target, inputs({ agreed: agreed(2.07, 0.001, 100, now, 0) }));
    expect(mixed.find((c) => c.check === 'amplification' && c.instance === '*')).toMatchObject({
      status: 'INCONCLUSIVE',
      detail: 'the window spans a change of R2 or R1 on an instance: judged once it has turned over (5m)',
    });
    expect(mixed.find((c) => c.check === 'amplification' && c.instance === 'alpha')).toMatchObject({
      status: 'INCONCLUSIVE',
      detail: 'the window spans a change of R2 or R1 on alpha: judged once it has turned over (5m)',
    });
    expect(mixed.filter((c) => c.status === 'PASS').map((c) => c.check)).not.toContain('amplification');
  });

  test('one instance outside its band fails the gate for that instance even when the cluster mean is inside', () => {
    const figures = agreed(2.07);
    const alphaLow = instanceLayerFigures(
      measurementVector({
        R1: { amplification: 1, error_rate: 0, burden_rate: 1, reporting: 1, samples: 40, settled: 1 },
        R2: { amplification: 1.5, error_rate: 0, burden_rate: 1.5, reporting: 1, samples: 40, settled: 1 },
      }),
    );
    const checks = evaluateGates(
      target,
      inputs({ agreed: { ...figures, instances: { ...figures.instances, alpha: alphaLow } } }),
    );
    expect(checks.find((c) => c.check === 'amplification' && c.instance === '*')?.status).toBe('PASS');
    expect(checks.find((c) => c.check === 'amplification' && c.instance === 'alpha')).toMatchObject({
      status: 'FAIL',
      measured: '1.50',
      threshold: '1.85–2.30',
      samples: 40,
    });
  });

  test('amplification outside its band fails with value and band; error rate above 1 % fails', () => {
    const low = evaluateGates(target, inputs({ agreed: agreed(1.7) }));
    expect(low.find((c) => c.check === 'amplification')).toMatchObject({
      status: 'FAIL',
      measured: '1.70',
      threshold: '1.85–2.30 (re-entry 1.90–2.25)',
      samples: 100,
    });
    const errors = evaluateGates(target, inputs({ agreed: agreed(2.07, 0.03) }));
    expect(errors.find((c) => c.check === 'error_rate' && c.layer === 'R2')).toMatchObject({
      status: 'FAIL',
      measured: '3.00%',
    });
  });

  test('hysteresis: after leaving the band, 1.87 is not enough to come back; 1.95 is', () => {
    const bands = new BandTracker();
    const band = layers.layers.find((l) => l.id === 'R2')!.amplification!;
    bands.update('R2', band, 2.0);
    expect(bands.peek('R2', band, 1.87)).toBe(true); // inside, still above the floor
    bands.update('R2', band, 1.7); // left the band
    expect(
      evaluateGates(target, inputs({ bands, agreed: agreed(1.87) })).find((c) => c.check === 'amplification')?.status,
    ).toBe('FAIL');
    expect(
      evaluateGates(target, inputs({ bands, agreed: agreed(1.95) })).find((c) => c.check === 'amplification')?.status,
    ).toBe('PASS');
  });

  test('a missing requirement, an unreachable instance and an emergency-disabled cluster each fail', () => {
    const checks = evaluateGates(
      [{ instance: 'beta', layer: 'R4' }],
      inputs({
        before: emergencyDisable(stage1),
        after: activate(stage1, { layers: ['R4'], instances: ['beta'], percentage: 100 }),
        reachable: (i) => i !== 'beta',
      }),
    );
    expect(checks.find((c) => c.check === 'requires')).toMatchObject({ status: 'FAIL', measured: 'R3 not active' });
    expect(checks.find((c) => c.check === 'healthy')).toMatchObject({ status: 'FAIL', measured: 'unreachable' });
    expect(checks.find((c) => c.check === 'emergency')?.status).toBe('FAIL');
  });
});

test('stage 1 layers have no earlier stage: only requirement, health, lock and consensus are checked', () => {
  const checks = evaluateGates(
    [{ instance: 'alpha', layer: 'R2' }],
    inputs({ before: emptyState(members), after: stage1 }),
  );
  expect(checks.map((c) => c.check).sort()).toEqual(['consensus', 'healthy', 'lock', 'requires']);
});
