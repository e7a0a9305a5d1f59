import { randomUUID } from 'node:crypto';
import jStat from 'jstat';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createCanaryJudge } from '../../../src/canary/index.js';
import {
  createOperationHistoryStore,
  createPool,
  type OperationRow,
  type StoragePool,
} from '../../../src/storage/index.js';
import { ManualClock } from '../../fixtures/manual-clock.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';

let db: TestDatabase;
let pool: StoragePool;
const now = Date.parse('2026-03-01T12:00:00Z');
const clock = new ManualClock(now);

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, { applicationName: 'triad-test-canary', max: 2 });
});

beforeEach(async () => {
  await pool.query('TRUNCATE operation_history');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** n operations of R3 on `instance`, spread over the last 50 minutes, log-normal latency around `medianMs`. */
function rows(instance: string, n: number, medianMs: number, seed: number, errorEvery = 0): OperationRow[] {
  let s = seed;
  const u = (): number => ((s = (s * 16807) % 2147483647) - 0.5) / 2147483646; // Park-Miller: seeded test data only
  return Array.from({ length: n }, (_, i) => ({
    operationId: randomUUID(),
    frameworkId: 'R3_TEST',
    layer: 'R3',
    instance,
    startedAt: now - 50 * 60_000 + Math.floor((i * 50 * 60_000) / n),
    durationMs: jStat.lognormal.inv(u(), Math.log(medianMs), 0.4),
    burdenSavedHours: jStat.lognormal.inv(u(), Math.log(0.5), 0.2),
    success: errorEvery === 0 || i % errorEvery !== 0,
    errorType: null,
    traceId: null,
    source: 'synthetic',
    cohort: null,
  }));
}

async function seed(...batches: OperationRow[][]): Promise<void> {
  const store = createOperationHistoryStore(pool);
  for (const batch of batches) await store.insert(batch);
}

describe('canary judge over stored operation history (real PostgreSQL)', () => {
  const judge = () => createCanaryJudge({ pool, clock, instances: ['alpha', 'beta', 'gamma'] });

  test('a canary twice as slow as its control FAILs on latency', async () => {
    await seed(rows('alpha', 300, 80, 1), rows('beta', 200, 40, 2), rows('gamma', 200, 40, 3));
    const r = await judge().judge({ layer: 'R3', instance: 'alpha', windowMs: 3_600_000 });
    expect(r.verdict).toBe('FAIL');
    expect(r.metric).toBe('latency');
    expect(r.effect).toBeGreaterThan(1.7);
    expect(r.effect).toBeLessThan(2.3);
    expect(r.samples).toEqual({ canary: 300, control: 400 });
    expect(r.control).toEqual(['beta', 'gamma']);
  });

  test('a canary like its control PASSes', async () => {
    await seed(rows('alpha', 400, 40, 4), rows('beta', 400, 40, 5));
    const r = await judge().judge({ layer: 'R3', instance: 'alpha', control: ['beta'], windowMs: 3_600_000 });
    expect(r.checks.map((c) => c.verdict)).toEqual(['PASS', 'PASS', 'PASS']);
    expect(r.verdict).toBe('PASS');
  });

  test('a handful of operations is INCONCLUSIVE', async () => {
    await seed(rows('alpha', 10, 400, 6), rows('beta', 400, 40, 7));
    const r = await judge().judge({ layer: 'R3', instance: 'alpha', windowMs: 3_600_000 });
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.samples).toEqual({ canary: 10, control: 400 });
  });

  test('only operations inside the window count', async () => {
    await seed(rows('alpha', 300, 80, 8), rows('beta', 300, 40, 9));
    // 10 minutes back reaches only a fifth of the 50 minutes seeded.
    const r = await judge().judge({ layer: 'R3', instance: 'alpha', windowMs: 10 * 60_000 });
    expect(r.samples.canary).toBeGreaterThanOrEqual(59);
    expect(r.samples.canary).toBeLessThanOrEqual(61);
    expect(r.toMs - r.fromMs).toBe(10 * 60_000);
  });

  test('bad input is refused with INPUT_INVALID before any read', async () => {
    const j = judge();
    await expect(j.judge({ layer: 'R9', instance: 'alpha', windowMs: 60_000 })).rejects.toThrow(
      '[INPUT_INVALID] unknown layer "R9"',
    );
    await expect(j.judge({ layer: 'R3', instance: 'delta', windowMs: 60_000 })).rejects.toThrow(
      '[INPUT_INVALID] unknown instance "delta" (instances: alpha, beta, gamma)',
    );
    await expect(j.judge({ layer: 'R3', instance: 'alpha', control: ['alpha'], windowMs: 60_000 })).rejects.toThrow(
      'cannot also be its control',
    );
    await expect(j.judge({ layer: 'R3', instance: 'alpha', windowMs: 10 })).rejects.toThrow('window must be');
  });
});
