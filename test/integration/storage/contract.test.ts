import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSecretKey, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type pg from 'pg';
import {
  appendAudit,
  createPool,
  genesisHash,
  listen,
  lockKey,
  migrate,
  notify,
  SessionLock,
  startEmbeddedPostgres,
  verifyAudit,
  lockClusterDeployment,
  withTransaction,
  type AuditEntry,
  type AuditRecord,
  type EmbeddedPostgres,
  type StoragePool,
} from '../../../src/storage/index.js';
import { TriadError } from '../../../src/shared/index.js';
import { waitFor } from '../../fixtures/cluster.js';
import { createTestDatabase, embeddedDataDir, type TestDatabase } from '../../fixtures/postgres.js';
import { recordingLog } from './helpers.js';

interface Engine {
  url: string;
  pool: StoragePool;
  close(): Promise<void>;
}

/** One contract, two engines: the machine's PostgreSQL (a database cloned from the template) and the embedded one. */
const engines: [string, () => Promise<Engine>][] = [
  [
    'machine PostgreSQL',
    async () => {
      const db: TestDatabase = await createTestDatabase();
      return { url: db.url, pool: db.pool, close: () => db.drop() };
    },
  ],
  [
    'embedded engine',
    async () => {
      const dataDir = embeddedDataDir();
      const server: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir });
      const pool = createPool(server.url, { applicationName: 'triad-test' });
      await migrate(pool);
      return {
        url: server.url,
        pool,
        async close() {
          await pool.end();
          await server.stop();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  ],
];

const auditKey = createSecretKey(randomBytes(32));

/**
 * Setup only: these tests run as a superuser, who may switch the append-only triggers off for a moment. That is what a
 * superuser tamperer can do too, and what `triad audit anchor` is for (test/integration/audit/tamper.test.ts).
 */
async function emptyAuditLog(pool: StoragePool): Promise<void> {
  await pool.query(
    'ALTER TABLE audit_log DISABLE TRIGGER USER; TRUNCATE audit_log; ALTER TABLE audit_log ENABLE TRIGGER USER',
  );
}

const entry = (n: number): AuditEntry => ({
  actor: 'operator@test',
  command: 'activate-layers',
  args: { layers: ['R1', 'R2'], percentage: n, nested: { b: 2, a: [1, { z: true, y: null }] } },
  reason: n % 2 === 0 ? `rollout step ${n}` : null,
  correlation_id: `corr-${n}`,
  before_version: n,
  after_version: n + 1,
  outcome: 'applied',
  undo_command: `triad rollback --to-version ${n}`,
});

/** Terminates the backend(s) of one application_name, as an operator or a crash would. */
async function terminate(pool: pg.Pool, applicationName: string): Promise<number> {
  const { rows } = await pool.query<{ done: boolean }>(
    'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return rows.filter((r) => r.done).length;
}

describe.each(engines)('storage contract on %s', (_name, open) => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await open();
  });

  afterAll(async () => {
    await engine?.close();
  });

  describe('pool', () => {
    test('an idle connection the server kills is logged, not fatal, and the pool carries on', async () => {
      const { log, lines } = recordingLog();
      const pool = createPool(engine.url, { applicationName: 'triad-test-idle', log });
      try {
        await pool.query('SELECT 1');
        expect(await terminate(engine.pool, 'triad-test-idle')).toBe(1);
        await waitFor(() => lines.some((l) => l.msg === 'idle PostgreSQL connection lost'), 10_000, 'the warning');
        expect(lines.find((l) => l.msg === 'idle PostgreSQL connection lost')).toMatchObject({
          level: 'warn',
          err: { code: '57P01' },
        });
        await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
      } finally {
        await pool.end();
      }
    });
  });

  describe('audit hash chain', () => {
    test('appends link each row to the one before, from 64 zeros, and verify accepts the chain', async () => {
      await emptyAuditLog(engine.pool);
      const records: AuditRecord[] = [];
      for (let n = 1; n <= 3; n++)
        records.push(await withTransaction(engine.pool, (c) => appendAudit(c, auditKey, entry(n))));
      expect(records[0]!.prev_hash).toBe(genesisHash);
      expect(records[1]!.prev_hash).toBe(records[0]!.hash);
      expect(records[2]!.prev_hash).toBe(records[1]!.hash);
      await expect(verifyAudit(engine.pool, auditKey)).resolves.toMatchObject({ ok: true, rows: 3, legacyRows: 0 });
      // Keyed: the same chain does not verify under another key.
      await expect(verifyAudit(engine.pool, createSecretKey(randomBytes(32)))).resolves.toMatchObject({
        ok: false,
        brokenAt: records[0]!.id,
      });
    });

    test('UPDATE, DELETE and TRUNCATE of audit_log are refused, by the trigger, even to a superuser', async () => {
      await emptyAuditLog(engine.pool);
      const row = await withTransaction(engine.pool, (c) => appendAudit(c, auditKey, entry(1)));
      await expect(engine.pool.query("UPDATE audit_log SET actor = 'mallory' WHERE id = $1", [row.id])).rejects.toThrow(
        'audit_log is append-only: UPDATE refused',
      );
      await expect(engine.pool.query('DELETE FROM audit_log WHERE id = $1', [row.id])).rejects.toThrow(
        'audit_log is append-only: DELETE refused',
      );
      await expect(engine.pool.query('TRUNCATE audit_log')).rejects.toThrow(
        'audit_log is append-only: TRUNCATE refused',
      );
      await expect(verifyAudit(engine.pool, auditKey)).resolves.toMatchObject({ ok: true, rows: 1 });
    });

    test('concurrent appends from many transactions still form one unbroken chain', async () => {
      await emptyAuditLog(engine.pool);
      await Promise.all(
        Array.from({ length: 8 }, (_, n) => withTransaction(engine.pool, (c) => appendAudit(c, auditKey, entry(n)))),
      );
      await expect(verifyAudit(engine.pool, auditKey)).resolves.toMatchObject({ ok: true, rows: 8 });
    });

    test('an audit row rolls back with the transaction it records', async () => {
      await emptyAuditLog(engine.pool);
      await expect(
        withTransaction(engine.pool, async (c) => {
          await appendAudit(c, auditKey, entry(1));
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      const { rows } = await engine.pool.query('SELECT count(*)::int AS n FROM audit_log');
      expect(rows[0]).toEqual({ n: 0 });
    });
  });

  describe('the cluster deployment lock (the one lock policy: wait a little, then LOCK_HELD)', () => {
    test('a second session waits its time and is refused with LOCK_HELD; it gets the lock once the first commits', async () => {
      const first = await engine.pool.connect();
      const second = await engine.pool.connect();
      try {
        await first.query('BEGIN');
        await second.query('BEGIN');
        await lockClusterDeployment(first, 200);
        const refused = await lockClusterDeployment(second, 200).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(TriadError);
        expect((refused as TriadError).code).toBe('LOCK_HELD');
        expect((refused as TriadError).message).toMatchInlineSnapshot(
          `"[LOCK_HELD] another change holds the cluster deployment lock (waited 0.2s); retry when it finishes"`,
        );
        await second.query('ROLLBACK');
        await second.query('BEGIN');
        await first.query('COMMIT');
        await lockClusterDeployment(second, 200);
        await second.query('COMMIT');
      } finally {
        first.release();
        second.release();
      }
    });

    test('outside a transaction it refuses to run instead of taking a lock that frees at once', async () => {
      const client = await engine.pool.connect();
      try {
        const err = await lockClusterDeployment(client).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TriadError);
        expect((err as TriadError).message).toMatchInlineSnapshot(
          `"[INTERNAL] lockClusterDeployment needs a client inside BEGIN (use withTransaction)"`,
        );
      } finally {
        client.release();
      }
    });
  });

  describe('session lock (leader election)', () => {
    test('exclusive while held; another session takes over once the holder connection is terminated', async () => {
      const key = lockKey(`test:leader:${Math.random()}`);
      const lost: Error[] = [];
      const leader = new SessionLock(engine.url, key, {
        applicationName: 'triad-test-leader-1',
        onLost: (err) => lost.push(err),
      });
      const follower = new SessionLock(engine.url, key, { applicationName: 'triad-test-leader-2' });
      try {
        expect(await leader.tryAcquire()).toBe(true);
        expect(await leader.tryAcquire()).toBe(true); // idempotent for the holder
        expect(await follower.tryAcquire()).toBe(false);
        expect(await terminate(engine.pool, 'triad-test-leader-1')).toBe(1);
        await waitFor(() => lost.length === 1, 10_000, 'the leader to notice its connection died');
        expect(leader.isHeld).toBe(false);
        await waitFor(() => follower.tryAcquire(), 10_000, 'the follower to take the lock');
        expect(follower.isHeld).toBe(true);
        expect(await follower.verify()).toBe(true);
        // The old leader can compete again, and loses to the new one.
        expect(await leader.tryAcquire()).toBe(false);
      } finally {
        await leader.release();
        await follower.release();
      }
    });

    test('release() hands the lock over at once', async () => {
      const key = lockKey(`test:leader:${Math.random()}`);
      const a = new SessionLock(engine.url, key);
      const b = new SessionLock(engine.url, key);
      try {
        expect(await a.tryAcquire()).toBe(true);
        expect(await b.tryAcquire()).toBe(false);
        await a.release();
        expect(await b.tryAcquire()).toBe(true);
      } finally {
        await a.release();
        await b.release();
      }
    });
  });

  describe('LISTEN/NOTIFY', () => {
    test('delivers a payload from one connection to another, at commit', async () => {
      const received: string[] = [];
      const listener = await listen(engine.url, 'triad_test_desired_state', (p) => received.push(p));
      try {
        await withTransaction(engine.pool, async (c) => {
          await notify(c, 'triad_test_desired_state', { version: 7 });
          // Not before the transaction commits: nodes must never see a version that might still roll back.
          await new Promise((resolve) => setTimeout(resolve, 100));
          expect(received).toEqual([]);
        });
        await waitFor(() => received.length === 1, 10_000, 'the notification');
        expect(JSON.parse(received[0]!)).toEqual({ version: 7 });
      } finally {
        await listener.close();
      }
    });

    test('a dropped listener connection reconnects and keeps delivering', async () => {
      const received: string[] = [];
      let reconnects = 0;
      const listener = await listen(engine.url, 'triad_test_reconnect', (p) => received.push(p), {
        applicationName: 'triad-test-listener',
        minDelayMs: 20,
        onReconnect: () => reconnects++,
      });
      try {
        expect(await terminate(engine.pool, 'triad-test-listener')).toBe(1);
        await waitFor(() => reconnects === 1, 10_000, 'the listener to reconnect');
        await notify(engine.pool, 'triad_test_reconnect', 'after-reconnect');
        await waitFor(() => received.includes('after-reconnect'), 10_000, 'the notification after reconnecting');
      } finally {
        await listener.close();
      }
    });
  });
});
