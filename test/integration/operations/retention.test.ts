import { createSecretKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runRetention, verifyAudit } from '../../../src/operations/index.js';
import { createLogger } from '../../../src/shared/index.js';
import { createOperationHistoryStore, listOperationPartitions } from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';
import { ManualClock } from '../../fixtures/manual-clock.js';

const day = 86_400_000;
const auditKey = createSecretKey(randomBytes(32));

describe('retention of operation_history on a real PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  test('drops the partition that expired under an injected clock, keeps younger ones, and audits the prune', async () => {
    // The clock starts at a fixed day; operations are written for it, then the clock moves 91 days on.
    const start = Date.UTC(2030, 0, 15, 12);
    const clock = new ManualClock(start);
    const deps = {
      pool: db.pool,
      clock,
      log: createLogger('test', { level: 'silent' }),
      self: 'alpha',
      policy: { operationsMs: 90 * day, intervalMs: 3_600_000, partitionsAheadDays: 2 },
      auditKey,
    };
    const first = await runRetention(deps);
    expect(first.created).toBe(3); // 15, 16 and 17 January 2030
    // The partitions the migration made around the real today are years older than this clock's now: expired too.
    expect(first.dropped.length).toBeGreaterThan(0);
    expect(first.dropped.every((p) => p < 'operation_history_p2030')).toBe(true);
    const store = createOperationHistoryStore(db.pool);
    const op = (id: string, at: number) => ({
      operationId: id,
      frameworkId: 'R1_SOVEREIGNTY_MEASUREMENT',
      layer: 'R1',
      instance: 'alpha',
      startedAt: at,
      durationMs: 1,
      burdenSavedHours: 0.1,
      success: true,
      errorType: null,
      traceId: null,
      source: 'ingest' as const,
      cohort: null,
    });
    await store.insert([
      op('00000000-0000-4000-8000-000000000001', start),
      op('00000000-0000-4000-8000-000000000002', start + day),
    ]);
    expect(await listOperationPartitions(db.pool)).toContain('operation_history_p20300115');

    await clock.advance(91 * day);
    const second = await runRetention(deps);
    // 15 January ended 90.5 days before the new now: expired. 16 January ended 89.5 days before: kept.
    expect(second.dropped).toEqual(['operation_history_p20300115']);
    const partitions = await listOperationPartitions(db.pool);
    expect(partitions).not.toContain('operation_history_p20300115');
    expect(partitions).toContain('operation_history_p20300116');
    const { rows } = await db.pool.query<{ operation_id: string }>('SELECT operation_id FROM operation_history');
    expect(rows.map((r) => r.operation_id)).toEqual(['00000000-0000-4000-8000-000000000002']);

    const audit = await db.pool.query<{ actor: string; command: string; args: { dropped_partitions: string[] } }>(
      'SELECT actor, command, args FROM audit_log ORDER BY id',
    );
    expect(audit.rows).toHaveLength(2);
    expect(audit.rows.slice(1)).toEqual([
      {
        actor: 'node:alpha',
        command: 'retention prune operation_history',
        args: expect.objectContaining({
          dropped_partitions: ['operation_history_p20300115'],
          retention: '90d',
        }) as unknown,
      },
    ]);
    expect(await verifyAudit(db.pool, auditKey)).toMatchObject({ ok: true, rows: 2 });
  });
});
