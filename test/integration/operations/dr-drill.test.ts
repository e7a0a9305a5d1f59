import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createOperationHistoryStore,
  createPool,
  migrate,
  startEmbeddedPostgres,
  type OperationRow,
} from '../../../src/storage/index.js';
import { nodeState, runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { createTestDatabase, embeddedDataDir, testDatabaseUrl, withDatabase } from '../../fixtures/postgres.js';

const day = 86_400_000;

function operations(n: number, now: number): OperationRow[] {
  return Array.from({ length: n }, (_, i) => ({
    operationId: randomUUID(),
    frameworkId: 'R1_SOVEREIGNTY_MEASUREMENT',
    layer: 'R1',
    instance: ['alpha', 'beta', 'gamma'][i % 3]!,
    // Spread over the last 20 days, so the restore has to recreate daily partitions it has never seen.
    startedAt: now - (i % 20) * day - i,
    durationMs: i % 50,
    burdenSavedHours: 0.25,
    success: i % 10 !== 0,
    errorType: i % 10 === 0 ? 'timeout' : null,
    traceId: `trace-${i}`,
    source: 'ingest',
    cohort: null,
  }));
}

interface DrillEngine {
  /** The database the cluster uses, dropped and recreated empty by the drill. */
  url: string;
  /** Another database on the same server, to drop and create it from. */
  adminUrl: string;
  close(): Promise<void>;
}

/** The machine's PostgreSQL (15): a fresh database cloned from the migrated template. */
async function machineEngine(): Promise<DrillEngine> {
  const db = await createTestDatabase();
  await db.pool.end();
  return {
    url: db.url,
    adminUrl: testDatabaseUrl,
    close: async () => {
      const admin = new pg.Client({ connectionString: testDatabaseUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** The embedded engine `triad up` runs (PostgreSQL 18): a migrated database of its own beside the engine's. */
async function embeddedEngine(): Promise<DrillEngine> {
  const dataDir = embeddedDataDir();
  const engine = await startEmbeddedPostgres({ dataDir });
  const admin = new pg.Client({ connectionString: engine.url });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE triad_drill');
  } finally {
    await admin.end();
  }
  const url = withDatabase(engine.url, 'triad_drill');
  const pool = createPool(url, { applicationName: 'triad-test' });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return {
    url,
    adminUrl: engine.url,
    close: async () => {
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['the machine’s PostgreSQL', machineEngine],
  ['the embedded engine', embeddedEngine],
])('disaster-recovery drill on %s', (_name, startEngine) => {
  let engine: DrillEngine;
  let pool: pg.Pool;
  let cluster: TestCluster;
  let dir: string;
  const triad = (...args: string[]) =>
    runTriad([...args, '--config', cluster.config.clusterFile], { env: { DATABASE_URL: cluster.databaseUrl } });

  beforeAll(async () => {
    engine = await startEngine();
    pool = new pg.Pool({ connectionString: engine.url, max: 2 });
    // The drill drops the database WITH (FORCE): the server ends this pool's idle connections, which is the point.
    pool.on('error', () => undefined);
    cluster = await TestCluster.start({ databaseUrl: engine.url });
    dir = mkdtempSync(path.join(tmpdir(), 'triad-dr-'));
    await cluster.waitReady();
    await cluster.waitForEpoch();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    await pool?.end();
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('history and operations → backup → database dropped → restore → verify-database → the cluster resumes', async () => {
    // History: two audited versions (break-glass commands, so no gate depends on timing).
    for (const args of [
      ['disable-framework', '--id', 'R1_SOVEREIGNTY_MEASUREMENT', '--reason', 'drill one'],
      ['enable-framework', '--id', 'R1_SOVEREIGNTY_MEASUREMENT', '--reason', 'drill two'],
    ]) {
      const result = await triad(...args);
      expect(result.code, result.stderr).toBe(0);
    }
    const inserted = await createOperationHistoryStore(pool).insert(operations(3_000, Date.now()));
    expect(inserted).toBe(3_000);
    const before = await pool.query<{ version: string }>(
      'SELECT max(version)::text AS version FROM desired_state_versions',
    );
    const version = Number(before.rows[0]!.version);
    expect(version).toBeGreaterThanOrEqual(2);

    const file = path.join(dir, 'drill.jsonl.gz');
    const backup = await triad('backup', '--out', file, '--json');
    expect(backup.code, backup.stderr).toBe(0);
    const summary = JSON.parse(backup.stdout) as { rowCounts: Record<string, number>; auditHead: { id: number } };
    expect(summary.rowCounts.operation_history).toBeGreaterThanOrEqual(3_000);
    expect(summary.rowCounts.desired_state_versions).toBe(version);
    expect(summary.auditHead.id).toBeGreaterThanOrEqual(2);

    // The loss: the database is gone (its connections killed), and an empty one takes its name.
    const name = new URL(cluster.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: engine.adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }

    const restore = await triad('restore', file, '--json');
    expect(restore.code, restore.stderr).toBe(0);
    const restored = JSON.parse(restore.stdout) as {
      verification: { ok: boolean };
      restored: { rowCounts: Record<string, number> };
    };
    expect(restored.verification.ok).toBe(true);
    expect(restored.restored.rowCounts).toEqual(summary.rowCounts);

    const verify = await triad('verify-database', '--json');
    expect(verify.code, verify.stderr).toBe(0);
    const verified = JSON.parse(verify.stdout) as { ok: boolean; rowCounts: Record<string, number> };
    expect(verified.ok).toBe(true);
    expect(verified.rowCounts.operation_history).toBe(summary.rowCounts.operation_history);

    // Restored operations went back into daily partitions, not the catch-all.
    const check = new pg.Client({ connectionString: cluster.databaseUrl });
    await check.connect();
    try {
      const { rows } = await check.query<{ n: string }>('SELECT count(*)::text AS n FROM operation_history_default');
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await check.end();
    }

    // No manual step: the running nodes reconnect and stay on the same applied version, ready.
    await waitFor(
      async () => {
        const states = await Promise.all(cluster.config.instances.map((i) => nodeState(i.grpc).catch(() => undefined)));
        return states.every((s) => s?.ready === true && s.applied_version === version);
      },
      45_000,
      `every node ready on v${version} after the restore`,
    );
    // And the cluster takes changes again: a new version lands on top of the restored history.
    const after = await triad(
      'disable-framework',
      '--id',
      'R1_SOVEREIGNTY_MEASUREMENT',
      '--reason',
      'after drill',
      '--json',
    );
    expect(after.code, after.stderr).toBe(0);
  });

  test('restore refuses a non-empty database without --force, and a corrupt file, writing nothing', async () => {
    const file = path.join(dir, 'drill.jsonl.gz');
    const refused = await triad('restore', file);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('[DATABASE_NOT_EMPTY] the target database is not empty');
    const noReason = await triad('restore', file, '--force');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--force replaces data: say why with --reason');

    const bad = path.join(dir, 'bad.jsonl.gz');
    writeFileSync(bad, 'not a backup');
    const corrupt = await triad('restore', bad, '--force', '--reason', 'test');
    expect(corrupt.code).toBe(2);
    expect(corrupt.stderr).toContain('[BACKUP_INVALID]');
  });
});
