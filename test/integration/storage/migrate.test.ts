import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../../src/cli/main.js';
import { systemClock, TriadError } from '../../../src/shared/index.js';
import { createPool, migrate, migrationsDir, readMigrations } from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';
import { recordingLog } from './helpers.js';

const shipped = readMigrations().map((m) => m.file);
/** The newest shipped version: what schema_migrations holds after a full run. */
const latest = Math.max(...readMigrations().map((m) => m.version));
const tables = [
  'alert_history',
  'audit_log',
  'backup_history',
  'consensus_measurements',
  'desired_state_versions',
  'framework_registry',
  'instance_state',
  'operation_history',
  'performance_metrics',
  'rollout_events',
  'rollout_measurements',
  'rollout_plans',
  'rollout_runs',
  'rollout_steps',
  'rollout_webhook_deliveries',
  'schema_migrations',
];

let db: TestDatabase;
let dir: string;

beforeEach(async () => {
  db = await createTestDatabase({ empty: true });
  dir = mkdtempSync(path.join(tmpdir(), 'triad-migrations-'));
  cpSync(migrationsDir, dir, { recursive: true });
});

afterEach(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('migrate', () => {
  test('applies every shipped file on an empty database, then nothing on a second run, and says so', async () => {
    const { log, lines } = recordingLog();
    const first = await migrate(db.pool, { log });
    expect(first.applied.map((m) => m.file)).toEqual(shipped);
    expect(first.alreadyApplied).toEqual([]);
    const { rows } = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    // operation_history's daily partitions (migrations/004) are tables too, named after the day the test runs.
    expect(rows.map((r) => r.table_name).filter((t) => !t.startsWith('operation_history_'))).toEqual(tables);
    expect(rows.map((r) => r.table_name)).toContain('operation_history_default');

    const second = await migrate(db.pool, { log });
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied.map((m) => m.file)).toEqual(shipped);
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'schema up to date: nothing to apply' });
  });

  test('records version, file name and checksum of each file', async () => {
    await migrate(db.pool, { dir });
    const { rows } = await db.pool.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(readMigrations(dir).map((m) => ({ version: m.version, name: m.file, checksum: m.checksum })));
  });

  test('a file added later is applied on the next run, in version order', async () => {
    await migrate(db.pool, { dir });
    writeFileSync(path.join(dir, '900_add_note.sql'), 'ALTER TABLE instance_state ADD COLUMN note text;\n');
    const result = await migrate(db.pool, { dir });
    expect(result.applied).toEqual([{ version: 900, file: '900_add_note.sql' }]);
    expect(result.alreadyApplied.map((m) => m.file)).toEqual(shipped);
    await db.pool.query("INSERT INTO instance_state (instance, note) VALUES ('alpha', 'hello')");
  });

  test('a file changed after it was applied is an error naming it, and nothing runs', async () => {
    await migrate(db.pool, { dir });
    appendFileSync(path.join(dir, '001_initial.sql'), '\n-- edited after the fact\n');
    writeFileSync(path.join(dir, '900_add_note.sql'), 'ALTER TABLE instance_state ADD COLUMN note text;\n');
    const err = await migrate(db.pool, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TriadError);
    expect((err as TriadError).code).toBe('CONFIG_INVALID');
    expect((err as TriadError).message).toMatch(
      /^\[CONFIG_INVALID\] migration 001_initial\.sql changed after it was applied \(as 001_initial\.sql; checksum recorded [0-9a-f]{12}…, file now [0-9a-f]{12}…\): never edit an applied migration, add a new file instead$/,
    );
    const { rows } = await db.pool.query('SELECT max(version) AS v FROM schema_migrations');
    expect(rows[0]).toEqual({ v: latest });
  });

  test('a failing file rolls back entirely and is not recorded', async () => {
    await migrate(db.pool, { dir });
    writeFileSync(path.join(dir, '900_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n');
    const err = await migrate(db.pool, { dir }).catch((e: unknown) => e);
    expect((err as TriadError).message).toMatchInlineSnapshot(
      `"[INTERNAL] migration 900_broken.sql failed and was rolled back (SQLSTATE 42P01): relation "no_such_table" does not exist"`,
    );
    const { rows } = await db.pool.query(
      "SELECT to_regclass('half_done') AS t, max(version) AS v FROM schema_migrations",
    );
    expect(rows[0]).toEqual({ t: null, v: latest });
    // The connection that failed was discarded; the pool still works, and so does the lock.
    const retry = await migrate(db.pool, { dir: migrationsDir });
    expect(retry.applied).toEqual([]);
  });

  test('two processes migrating at once take turns: each file is applied exactly once', async () => {
    const pools = [
      createPool(db.url, { applicationName: 'triad-test-a' }),
      createPool(db.url, { applicationName: 'triad-test-b' }),
    ];
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool, { dir })));
      const applied = results.flatMap((r) => r.applied.map((m) => m.file)).sort();
      expect(applied).toEqual(shipped);
      expect(results.map((r) => r.applied.length + r.alreadyApplied.length)).toEqual([shipped.length, shipped.length]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

describe('triad migrate', () => {
  async function cli(args: string[], env: Record<string, string> = {}) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: string[] = [];
    const err: string[] = [];
    stdout.on('data', (c: Buffer) => out.push(c.toString()));
    stderr.on('data', (c: Buffer) => err.push(c.toString()));
    const code = await runCli(['migrate', ...args], {
      stdout,
      stderr,
      env,
      cwd: process.cwd(),
      clock: systemClock,
      interactive: false,
    });
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  test('--json lists applied, then already applied, migrations', async () => {
    const first = await cli(['--json', '--database-url', db.url]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      database: `127.0.0.1:5432/${db.name}`,
      applied: shipped,
      alreadyApplied: [],
    });
    const second = await cli(['--json'], { DATABASE_URL: db.url });
    expect(JSON.parse(second.stdout)).toEqual({
      database: `127.0.0.1:5432/${db.name}`,
      applied: [],
      alreadyApplied: shipped,
    });
  });

  test('text output says what it did', async () => {
    await cli(['--database-url', db.url]);
    const again = await cli(['--database-url', db.url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `${shipped.map((f) => `already applied  ${f}`).join('\n')}\n127.0.0.1:5432/${db.name}: schema up to date, nothing to apply\n`,
    );
  });

  test('without a database it is a usage error pointing at DATABASE_URL and triad up', async () => {
    const result = await cli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "triad: [USAGE] no database to migrate: set DATABASE_URL or pass --database-url. (Without DATABASE_URL, \`triad up\` runs the embedded PostgreSQL and migrates it itself.)
      "
    `);
  });

  test('an unreachable server exits 1 with STORAGE_UNAVAILABLE naming host:port/db, never the password', async () => {
    const result = await cli(['--json', '--database-url', 'postgres://triad:hunter2@127.0.0.1:1/triad']);
    expect(result.code).toBe(1);
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('STORAGE_UNAVAILABLE');
    expect(error.message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:1\/triad: connect ECONNREFUSED/);
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });

  test('--help describes the command', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: triad migrate [--json] [--database-url <url>]');
  });
});
