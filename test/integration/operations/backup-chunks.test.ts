import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkBackupFile, dumpDatabase, restoreDatabase } from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';

// The batched paths: a backup written a FETCH chunk at a time and a restore with one INSERT batch in flight while the
// next is read. 25,000 rows is 3 chunks and 3 batches, the last ones partial; four past days of partitions.
const rows = 25_000;
const days = 4;

/** Order-independent fingerprint of operation_history's contents (every column). */
const fingerprint = `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS digest FROM operation_history t`;

describe('backup and restore in chunks on a real PostgreSQL', () => {
  let source: TestDatabase;
  let target: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    source = await createTestDatabase();
    target = await createTestDatabase({ empty: true });
    dir = mkdtempSync(path.join(tmpdir(), 'triad-backup-chunks-'));
    await source.pool.query(
      `SELECT triad_ensure_operation_partition((now() AT TIME ZONE 'UTC')::date - g) FROM generate_series(1, $1) AS g`,
      [days],
    );
    await source.pool.query(
      `INSERT INTO operation_history (operation_id, framework_id, layer, instance, started_at, duration_ms,
                                      burden_saved_hours, success, error_type, trace_id, source, cohort)
       SELECT gen_random_uuid(), 'fw-' || (i % 7), 'R1', 'alpha',
              date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - (1 + i % $2) * interval '1 day' + i * interval '1 ms',
              i % 90, 0.25, i % 9 <> 0, CASE WHEN i % 9 = 0 THEN 'timeout' END, 'trace "' || i || E'"\\n', 'ingest', NULL
         FROM generate_series(1, $1) AS i`,
      [rows, days],
    );
  }, 120_000);
  afterAll(async () => {
    await source?.drop();
    await target?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every row comes back identical, straight into its daily partition', async () => {
    const file = path.join(dir, 'b.jsonl.gz');
    const client = await source.pool.connect();
    let dumped;
    try {
      dumped = await dumpDatabase(client, file);
    } finally {
      client.release();
    }
    expect(dumped.rowCounts.operation_history).toBe(rows);
    expect(dumped.manifest.operationDays?.length).toBeGreaterThanOrEqual(days);

    const checked = await checkBackupFile(file);
    expect(checked.sha256).toBe(dumped.sha256);
    const restored = await restoreDatabase(target.pool, file, checked);
    expect(restored.rowCounts.operation_history).toBe(rows);

    const [before, after] = await Promise.all([source.pool.query(fingerprint), target.pool.query(fingerprint)]);
    expect(after.rows[0]).toEqual(before.rows[0]);
    const { rows: stray } = await target.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM operation_history_default',
    );
    expect(stray[0]!.n).toBe(0);
    const { rows: parts } = await target.pool.query<{ n: number }>(
      `SELECT count(DISTINCT tableoid)::int AS n FROM operation_history`,
    );
    expect(parts[0]!.n).toBe(days);
  }, 180_000);
});
