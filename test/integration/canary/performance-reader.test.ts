import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { layerIds } from '../../../src/config/index.js';
import { createPerformanceReader } from '../../../src/layer-manager/index.js';
import {
  createOperationHistoryStore,
  createPool,
  type OperationRow,
  type StoragePool,
} from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';

// The latency_p99 / throughput triggers' figures, read from a real PostgreSQL: seeded desired-state versions (with
// their created_at) and operation_history, a 5-minute window, min 20 operations.
let db: TestDatabase;
let pool: StoragePool;
const instances = ['alpha', 'beta', 'gamma'];
const minute = 60_000;
const t0 = Date.parse('2026-03-01T12:00:00Z');

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, { applicationName: 'triad-test-performance', max: 2 });
});

beforeEach(async () => {
  await pool.query('TRUNCATE operation_history, desired_state_versions');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** A version where R1–R3 run on every instance, R3 at `r3` % on alpha. */
async function version(version: number, atMs: number, r3OnAlpha: number): Promise<void> {
  const setting = (on: boolean, percentage = 100) => ({ enabled: on, percentage: on ? percentage : 0 });
  const state = {
    instances: Object.fromEntries(
      instances.map((i) => [
        i,
        Object.fromEntries(
          layerIds.map((l) => [
            l,
            l === 'R3' && i === 'alpha' ? setting(r3OnAlpha > 0, r3OnAlpha) : setting(['R1', 'R2', 'R3'].includes(l)),
          ]),
        ),
      ]),
    ),
    disabled_frameworks: [],
    emergency_disabled: false,
  };
  await pool.query(
    `INSERT INTO desired_state_versions (version, state, created_by, command, correlation_id, created_at)
     VALUES ($1, $2, 'test', 'seed', $3, to_timestamp($4::float8 / 1000))`,
    [version, JSON.stringify(state), randomUUID(), atMs],
  );
}

/** `perSecond` R3 operations a second on `instance` over [fromMs, toMs), each taking `ms(i)`. */
async function ops(instance: string, fromMs: number, toMs: number, perSecond: number, ms: (i: number) => number) {
  const rows: OperationRow[] = [];
  const step = 1000 / perSecond;
  for (let at = fromMs, i = 0; at < toMs; at += step, i++)
    rows.push({
      operationId: randomUUID(),
      frameworkId: 'R3_TEST',
      layer: 'R3',
      instance,
      startedAt: Math.round(at),
      durationMs: ms(i),
      burdenSavedHours: 0.5,
      success: true,
      errorType: null,
      traceId: null,
      source: 'synthetic',
      cohort: null,
    });
  await createOperationHistoryStore(pool).insert(rows);
}

const reader = () => createPerformanceReader({ pool, instances, windowMs: 5 * minute, minSamples: 20 });
/** 5…24 ms by a fixed pattern: p99 of a long run is 24 ms (interpolated just below it). */
const spread = (i: number) => 5 + (i % 20);

describe('latency and throughput per instance and layer from operation_history', () => {
  test('a percentage change on alpha: the baseline is the window before it; p99 and throughput now', async () => {
    await version(1, t0, 0);
    await version(2, t0 + 10 * minute, 50); // R3 on alpha at 50 %
    await version(3, t0 + 40 * minute, 100); // … then at 100 %: the change the baseline is taken before
    await ops('alpha', t0 + 30 * minute, t0 + 40 * minute, 1, spread); // 1/s at 50 %: 2/s normalised
    await ops('alpha', t0 + 40 * minute, t0 + 60 * minute, 1.5, (i) => 2 * spread(i)); // slower, and 1.5/s at 100 %
    const now = t0 + 60 * minute;
    const perf = (await reader().read(now))('alpha', 'R3');
    expect(perf?.samples).toBe(450); // [now − 2 s − 5 m, now − 2 s): the flush lag
    expect(perf?.p99Ms).toBeCloseTo(48, 0);
    expect(perf?.throughputPerS).toBeCloseTo(1.5, 2);
    expect(perf?.baseline?.samples).toBe(300);
    expect(perf?.baseline?.p99Ms).toBeCloseTo(24, 0);
    expect(perf?.baseline?.throughputPerS).toBeCloseTo(2, 2);
    // So the shipped triggers would read p99 at 2× (not above it: no firing) and throughput at 75 % (below 80 %).
    expect(perf!.p99Ms / perf!.baseline!.p99Ms).toBeCloseTo(2, 1);
    expect(perf!.throughputPerS / perf!.baseline!.throughputPerS).toBeCloseTo(0.75, 2);
  });

  test('a window that spans the change has no figure; a layer new on the instance is judged against its first window', async () => {
    await version(1, t0, 0);
    await version(2, t0 + 30 * minute, 100); // R3 starts on alpha: nothing ran there before
    await ops('alpha', t0 + 30 * minute, t0 + 50 * minute, 2, (i) => (i < 600 ? spread(i) : 3 * spread(i)));
    const r = reader();
    expect((await r.read(t0 + 34 * minute))('alpha', 'R3')).toBeUndefined(); // spans the change
    // Once the current window is clean, the first whole window after the change is over too: it is the baseline.
    const first = (await r.read(t0 + 35 * minute + 2_000))('alpha', 'R3');
    expect(first?.samples).toBe(600);
    expect(first?.baseline?.samples).toBe(600);
    expect(first!.p99Ms / first!.baseline!.p99Ms).toBeCloseTo(1, 1);
    // 50 min: the baseline is [30 min, 35 min) (5…24 ms); the last 5 minutes run 3× slower.
    const late = (await r.read(t0 + 50 * minute))('alpha', 'R3');
    expect(late?.baseline?.p99Ms).toBeCloseTo(24, 0);
    expect(late?.p99Ms).toBeCloseTo(72, 0);
    expect(late?.throughputPerS).toBeCloseTo(2, 2);
    // beta and gamma have no R3 operations at all: no figure rather than a zero.
    expect((await r.read(t0 + 50 * minute))('beta', 'R3')).toBeUndefined();
  });

  test('quick changes in a row leave no clean "before": the first whole window after the last one is the baseline', async () => {
    await version(1, t0, 100);
    await version(2, t0 + 30 * minute, 50); // R3 on alpha at 50 % for only 2 minutes …
    await version(3, t0 + 32 * minute, 100); // … so the 5 minutes before this change mix 100 % and 50 %
    await ops('alpha', t0 + 25 * minute, t0 + 30 * minute, 2, spread); // 2/s at 100 %
    await ops('alpha', t0 + 30 * minute, t0 + 32 * minute, 1, spread); // 1/s at 50 %
    await ops('alpha', t0 + 32 * minute, t0 + 45 * minute, 2, spread); // 2/s at 100 %
    const perf = (await reader().read(t0 + 45 * minute))('alpha', 'R3');
    // A mixed "before" read at the 50 % it ended with would make 2/s the baseline of … 3.2/s, and today's 2/s a
    // 62 % collapse. The baseline is [32 min, 37 min) instead: the same 2/s.
    expect(perf?.baseline?.throughputPerS).toBeCloseTo(2, 2);
    expect(perf!.throughputPerS / perf!.baseline!.throughputPerS).toBeCloseTo(1, 2);
  });

  test('too few operations in the window is no figure', async () => {
    await version(1, t0, 100);
    await ops('alpha', t0 + 55 * minute, t0 + 60 * minute, 0.05, spread); // 15 operations
    expect((await reader().read(t0 + 60 * minute + 2_000))('alpha', 'R3')).toBeUndefined();
  });
});
