import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { expect, test } from 'vitest';
import { parseLayersConfig, type LayerId } from '../../../src/config/index.js';
import { createMetrics } from '../../../src/metrics/index.js';
import { createSyntheticPack, FrameworkRuntime } from '../../../src/runtime/index.js';
import { ManualClock } from '../../fixtures/manual-clock.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const windowMs = 10_000;

function runtime() {
  const clock = new ManualClock();
  const rt = new FrameworkRuntime({
    instance: 'alpha',
    layers,
    plugins: createSyntheticPack(layers, {
      seed: 't',
      baseBurdenHoursPerWeek: 1.35,
      intervalMs: 1_000,
      r6PeriodMs: 60_000,
    }),
    clock,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(new Registry(), { layers, topology: 'K3' }).runtime,
    sink: { submit: () => Promise.resolve(), depth: () => 0 },
    intervalMs: 1_000,
    windowMs,
    r6: { periodMs: 60_000, nextRunAt: (from) => from + 60_000 },
    isLeader: () => true,
  });
  const apply = (active: Partial<Record<LayerId, number>>) =>
    rt.apply({ layers: new Map(Object.entries(active) as [LayerId, number][]), disabledFrameworks: new Set() });
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      rt.tick();
      await clock.advance(1_000);
    }
  };
  const settled = () => Object.fromEntries(rt.snapshot().map((s) => [s.layer, s.settled]));
  return { rt, apply, run, settled };
}

test('a layer is unsettled until a whole window has passed since it, or the layer below it, last changed', async () => {
  const { apply, run, settled } = runtime();
  apply({ R1: 100, R2: 100, R3: 100 });
  await run(9);
  expect(settled()).toMatchObject({ R1: false, R2: false, R3: false });
  await run(1);
  expect(settled()).toMatchObject({ R1: true, R2: true, R3: true });

  // R1's percentage changes: R1 and R2 (whose ratio is taken against R1) are unsettled; R3 is not.
  apply({ R1: 10, R2: 100, R3: 100 });
  expect(settled()).toMatchObject({ R1: false, R2: false, R3: true });
  await run(10);
  expect(settled()).toMatchObject({ R1: true, R2: true, R3: true });
});

test('while R1 mixes 100 % and 10 % in its window, R2 reads far off its expected ratio — hence unsettled', async () => {
  const { rt, apply, run } = runtime();
  apply({ R1: 100, R2: 100 });
  await run(20);
  const before = rt.snapshot().find((s) => s.layer === 'R2')!;
  expect(before.amplification!).toBeGreaterThan(1.85);
  expect(before.settled).toBe(true);
  apply({ R1: 10, R2: 100 });
  await run(2);
  const mixed = rt.snapshot().find((s) => s.layer === 'R2')!;
  // R1's window is mostly 100 % operations now divided by a 10 % share: R2's ratio collapses for one window.
  expect(mixed.amplification!).toBeLessThan(1);
  expect(mixed.settled).toBe(false);
});
