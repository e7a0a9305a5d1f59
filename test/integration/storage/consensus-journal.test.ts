import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createConsensusJournal,
  type ConsensusJournal,
  type Queryable,
  type ConsensusMeasurementRow,
} from '../../../src/storage/index.js';
import { ManualClock } from '../../fixtures/manual-clock.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';
import { recordingLog } from './helpers.js';

function row(epoch: number, overrides: Partial<ConsensusMeasurementRow> = {}): ConsensusMeasurementRow {
  return {
    epoch_id: `alpha-test-${epoch}`,
    topology: 'K3',
    members: ['alpha', 'beta', 'gamma'],
    unreachable: [],
    error: 1e-12 * epoch,
    converged: true,
    rounds: 1,
    duration_ms: 1.25,
    lambda2: 3,
    agreed: { 'R1.amplification': 2.5 + epoch },
    measured_at: new Date(Date.UTC(2026, 0, 1, 0, 0, epoch)),
    ...overrides,
  };
}

describe('consensus journal on PostgreSQL', () => {
  let db: TestDatabase;
  let statements: string[];
  let writes: Promise<unknown>[];
  let clock: ManualClock;
  let journal: ConsensusJournal;
  const { log, lines } = recordingLog();

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** The pool, with every INSERT it is asked to run noted, so the test can count statements. */
  function startJournal(minIntervalMs = 1_000): void {
    statements = [];
    writes = [];
    clock = new ManualClock();
    const pool = {
      query: (text: string, values: unknown[]) => {
        statements.push(text);
        const write = db.pool.query(text, values);
        writes.push(write.catch(() => undefined));
        return write;
      },
    };
    // A stand-in with only query(text, values): what the journal's store calls.
    journal = createConsensusJournal({ pool: pool as unknown as Queryable, clock, log, minIntervalMs });
  }

  /** The rows in the table once every write the journal started has finished. */
  async function stored(): Promise<{ epoch_id: string; agreed: Record<string, number>; lambda2: number | null }[]> {
    await Promise.all(writes);
    const { rows } = await db.pool.query<{ epoch_id: string; agreed: Record<string, number>; lambda2: number | null }>(
      'SELECT epoch_id, agreed, lambda2 FROM consensus_measurements ORDER BY measured_at',
    );
    return rows;
  }

  test('a lone epoch is written at once; a burst within the interval goes in one statement; nothing is lost', async () => {
    await db.pool.query('TRUNCATE consensus_measurements');
    startJournal();
    journal.record(row(1));
    await clock.advance(0);
    expect(statements).toHaveLength(1);
    expect((await stored()).map((r) => r.epoch_id)).toEqual(['alpha-test-1']);

    for (let epoch = 2; epoch <= 40; epoch++) journal.record(row(epoch));
    await clock.advance(999);
    expect(statements).toHaveLength(1); // still inside the interval: the 39 rows wait
    await clock.advance(1);
    expect(statements).toHaveLength(2);
    const rows = await stored();
    expect(rows.map((r) => r.epoch_id)).toEqual(Array.from({ length: 40 }, (_, i) => `alpha-test-${i + 1}`));
    expect(rows[39]!.agreed).toEqual({ 'R1.amplification': 42.5 });

    // Long after the last write, the next epoch is again written without waiting.
    await clock.advance(60_000);
    journal.record(row(41, { lambda2: null, converged: false, unreachable: ['gamma'] }));
    await clock.advance(0);
    expect(statements).toHaveLength(3);
    expect((await stored()).at(-1)).toMatchObject({ epoch_id: 'alpha-test-41', lambda2: null });
  });

  test('flush() writes what is queued without waiting for the interval (a node stopping)', async () => {
    await db.pool.query('TRUNCATE consensus_measurements');
    startJournal();
    journal.record(row(1));
    journal.record(row(2));
    journal.record(row(3));
    await journal.flush();
    expect((await stored()).map((r) => r.epoch_id)).toEqual(['alpha-test-1', 'alpha-test-2', 'alpha-test-3']);
    expect(statements).toHaveLength(2);
    expect(clock.pendingSleepers).toBe(0); // the scheduled write was taken over by the flush
  });

  test('a failed write is logged with its row count and does not stop later rows', async () => {
    await db.pool.query('TRUNCATE consensus_measurements');
    startJournal();
    journal.record(row(1));
    journal.record(row(2, { measured_at: new Date(Number.NaN) })); // an invalid timestamp: PostgreSQL refuses it
    await journal.flush();
    const failure = lines.find((l) => l.msg === 'could not record consensus measurements');
    expect(failure).toMatchObject({ level: 'warn', rows: 1 });
    journal.record(row(3));
    await journal.flush();
    expect((await stored()).map((r) => r.epoch_id)).toEqual(['alpha-test-1', 'alpha-test-3']);
  });
});
