import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ensureAuditKey, readAuditKey } from '../../../src/certs/index.js';
import { loadConfig } from '../../../src/config/index.js';
import {
  BandTracker,
  createDesiredStateStore,
  DesiredStateApplier,
  LayerManager,
  parseMutation,
} from '../../../src/layer-manager/index.js';
import { fromWireMutation, type MutationRequest } from '../../../src/protocol/index.js';
import { systemClock } from '../../../src/shared/index.js';
import {
  auditHash,
  checkVersionSeal,
  genesisHash,
  migrate,
  migrationsDir,
  sealLegacyRows,
  toHashInput,
  verifyAudit,
  type AuditKey,
  type AuditRow,
  type StoragePool,
} from '../../../src/storage/index.js';
import { repoRoot, runTriad, type CliResult } from '../../fixtures/cluster.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';

const log = pino({ level: 'silent' });
const config = loadConfig({ env: {}, cwd: repoRoot });
const members = ['alpha'];

let dir: string;
let keyFile: string;
let key: AuditKey;
let db: TestDatabase;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'triad-audit-'));
  keyFile = path.join(dir, 'audit.key');
  ensureAuditKey(keyFile);
  key = readAuditKey(keyFile);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  db = await createTestDatabase();
});

afterEach(async () => {
  await db?.drop();
});

/** Three changes made the way a node makes them: the layer manager, its transaction, its audit rows. */
async function makeHistory(pool: StoragePool): Promise<void> {
  const store = createDesiredStateStore(members);
  const applier = new DesiredStateApplier({
    pool,
    databaseUrl: db.url,
    store,
    self: 'alpha',
    clock: systemClock,
    log,
    auditKey: key,
    onApplied: () => undefined,
  });
  const manager = new LayerManager({
    pool,
    store,
    auditKey: key,
    layers: config.layers,
    members,
    clock: systemClock,
    log,
    timing: config.timing,
    agreed: () => undefined,
    bands: new BandTracker(),
    reachable: () => true,
    rttMs: () => 0,
    pushApply: (_instance, version) => applier.applyAtLeast(version),
    onRollback: () => undefined,
  });
  const options = { dry_run: false, force: true, reason: 'test', label: '', timeout_ms: 5_000, actor: 'test@host' };
  for (const percentage of [10, 50, 100]) {
    const request: MutationRequest = {
      command: 'activate',
      activate: { layers: ['R1'], instances: ['alpha'], percentage },
      options,
    };
    const { input, options: sent } = fromWireMutation(request);
    const result = await manager.mutate(parseMutation(input, { config: config.layers, instances: members }), {
      ...sent,
      actor: 'CN=local,OU=operator,O=triad',
      correlationId: `c-${percentage}`,
    });
    expect(result.complete).toBe(true);
  }
}

/** What a superuser who can write to the database can do: switch the append-only triggers off, tamper, switch on. */
async function asSuperuser(pool: StoragePool, sql: string, params: unknown[] = []): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    await client.query(sql, params);
    await client.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function rows(pool: StoragePool): Promise<AuditRow[]> {
  return (await pool.query<AuditRow>('SELECT * FROM audit_log ORDER BY id')).rows;
}

/**
 * Re-chains every row from `from` on with unkeyed SHA-256, as someone without the key would: the edit is made, then
 * each hash recomputed and the next row's prev_hash relinked. `legacy` also marks them unkeyed rows.
 */
async function rechain(pool: StoragePool, from: number, options: { legacy?: boolean } = {}): Promise<void> {
  const all = await rows(pool);
  let prev = all.find((r) => Number(r.id) === from - 1)?.hash ?? genesisHash;
  for (const row of all.filter((r) => Number(r.id) >= from)) {
    const alg = options.legacy ? 'sha256' : row.hash_alg;
    const hash = auditHash(toHashInput({ ...row, hash_alg: alg, prev_hash: prev }));
    await asSuperuser(pool, 'UPDATE audit_log SET prev_hash = $2, hash = $3, hash_alg = $4 WHERE id = $1', [
      row.id,
      prev,
      hash,
      alg,
    ]);
    prev = hash;
  }
}

function verify(...extra: string[]): Promise<CliResult> {
  return runTriad(['audit', 'verify', '--json', '--database-url', db.url, '--key-file', keyFile, ...extra]);
}

async function anchor(): Promise<string> {
  const file = path.join(dir, `anchor-${db.name}.log`);
  const result = await runTriad(['audit', 'anchor', '--database-url', db.url, '--key-file', keyFile, '--out', file]);
  expect(result.code, result.stderr).toBe(0);
  return file;
}

function failure(result: CliResult): { code: string; message: string; details: Record<string, unknown> } {
  return (JSON.parse(result.stdout) as { error: { code: string; message: string; details: Record<string, unknown> } })
    .error;
}

describe('triad audit verify --anchor on a real PostgreSQL', () => {
  test('an untouched history verifies, with and without its anchor', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    expect(JSON.parse(readFileSync(file, 'utf8').trim())).toMatchObject({ rows: 3, legacy_rows: 0, head_id: 3 });
    for (const result of [await verify(), await verify('--anchor', file)]) {
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, rows: 3, versions: 3, legacyRows: 0 });
    }
  });

  test('an edited row with every unkeyed hash recomputed is named', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    await asSuperuser(db.pool, `UPDATE audit_log SET actor = 'CN=mallory,OU=operator,O=triad' WHERE id = 2`);
    await rechain(db.pool, 2);
    const result = await verify('--anchor', file);
    expect(result.code).toBe(1);
    const error = failure(result);
    expect(error.code).toBe('AUDIT_TAMPERED');
    expect(error.details).toMatchObject({ ok: false, brokenAt: 2, rows: 1 });
    expect(error.message).toContain('broken at row 2: HMAC does not match the row');
  });

  test('rows rewritten as unkeyed (legacy) rows are named, with and without the anchor', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    await asSuperuser(db.pool, `UPDATE audit_log SET actor = 'CN=mallory,OU=operator,O=triad' WHERE id = 2`);
    await rechain(db.pool, 1, { legacy: true });
    const anchored = failure(await verify('--anchor', file));
    expect(anchored.details).toMatchObject({ brokenAt: 1 });
    expect(anchored.message).toContain('counts 0 unkeyed rows in all: rewritten as unkeyed');
    const bare = await verify();
    expect(bare.code).toBe(1);
    expect(failure(bare).message).toContain('the 3 unkeyed rows are not sealed by a keyed row');
  });

  test('a deleted tail is reported as missing against the anchor, and its version as unaudited without it', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    await asSuperuser(db.pool, 'DELETE FROM audit_log WHERE id = 3');
    const anchored = await verify('--anchor', file);
    expect(anchored.code).toBe(1);
    expect(failure(anchored).details).toMatchObject({ ok: false, rows: 2, missingRows: 1 });
    expect(failure(anchored).message).toContain('the log ends at row 2 after 2 rows: the tail after row 2 is missing');
    const bare = failure(await verify());
    expect(bare.details).toMatchObject({ version: 3 });
    expect(bare.message).toContain('desired-state version 3 has no audit row that created it');
  });

  test('an emptied (truncated) log is reported against the anchor', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    await asSuperuser(db.pool, 'TRUNCATE audit_log');
    const result = await verify('--anchor', file);
    expect(result.code).toBe(1);
    expect(failure(result).details).toMatchObject({ rows: 0, missingRows: 3 });
    expect(failure(result).message).toContain('the audit log is empty but the anchor');
  });

  test('a rewritten desired-state version is named with its audit row, and no node applies it', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    // desired_state_versions has no trigger: the application role may write it; the seal is what protects it.
    await db.pool.query(
      `UPDATE desired_state_versions SET state = jsonb_set(state, '{instances,alpha,R1,percentage}', '5') WHERE version = 3`,
    );
    const result = await verify('--anchor', file);
    expect(result.code).toBe(1);
    expect(failure(result).details).toMatchObject({ version: 3, brokenAt: 3 });
    expect(failure(result).message).toContain(
      'broken at desired-state version 3 (audit row 3): desired-state version 3 does not match the hash its audit row 3 carries',
    );

    const refused: number[] = [];
    const applier = new DesiredStateApplier({
      pool: db.pool,
      databaseUrl: db.url,
      store: createDesiredStateStore(members),
      self: 'alpha',
      clock: systemClock,
      log,
      auditKey: key,
      onRefused: (version) => refused.push(version),
      onApplied: () => undefined,
    });
    await expect(applier.catchUp()).resolves.toBe(0);
    expect(applier.refused).toMatchObject({ version: 3 });
    expect(applier.refused?.reason).toContain('does not match the hash its audit row 3 carries');
    expect(refused).toEqual([3]);
    await expect(checkVersionSeal(db.pool, key, 2)).resolves.toMatchObject({ ok: true, auditRow: 2 });
  });

  test('bad input exits 2 with what was wrong: an edited anchor, a missing key, a key others can read', async () => {
    await makeHistory(db.pool);
    const file = await anchor();
    const edited = path.join(dir, 'edited-anchor.log');
    writeFileSync(edited, readFileSync(file, 'utf8').replace('"rows":3', '"rows":2'));
    const forged = await verify('--anchor', edited);
    expect(forged.code).toBe(2);
    expect(failure(forged).message).toContain('the anchor does not verify with the audit key');

    const missing = await runTriad(['audit', 'verify', '--database-url', db.url, '--key-file', path.join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('[CONFIG_INVALID] audit key');
    expect(missing.stderr).toContain('file not found');

    const open = path.join(dir, 'open.key');
    copyFileSync(keyFile, open);
    chmodSync(open, 0o644);
    const readable = await runTriad(['audit', 'verify', '--database-url', db.url, '--key-file', open]);
    expect(readable.code).toBe(2);
    expect(readable.stderr).toContain('mode is 644, must be 600');

    const usage = await runTriad(['audit', 'rewrite', '--database-url', db.url, '--key-file', keyFile]);
    expect(usage.code).toBe(2);
  });
});

describe('a database from before the audit key (migrations 001–002) upgraded to 003', () => {
  let old: TestDatabase;

  afterEach(async () => {
    await old?.drop();
  });

  test('its unkeyed rows and versions are sealed on the first keyed start, then checked like keyed ones', async () => {
    old = await createTestDatabase({ empty: true });
    const firstTwo = mkdtempSync(path.join(tmpdir(), 'triad-migrations-'));
    try {
      mkdirSync(firstTwo, { recursive: true });
      for (const f of ['001_initial.sql', '002_audit_on_behalf_of.sql'])
        copyFileSync(path.join(migrationsDir, f), path.join(firstTwo, f));
      await migrate(old.pool, { dir: firstTwo });
    } finally {
      rmSync(firstTwo, { recursive: true, force: true });
    }
    // Two versions and their audit rows as the old code wrote them: unkeyed SHA-256 links.
    let prev = genesisHash;
    for (const version of [1, 2]) {
      const state = { instances: { alpha: { R1: { enabled: true, percentage: version * 10 } } } };
      const at = new Date(Date.UTC(2026, 0, version));
      await old.pool.query(
        `INSERT INTO desired_state_versions (version, state, created_by, command, correlation_id, created_at)
         VALUES ($1, $2, 'ops', 'triad activate-layers', $3, $4)`,
        [version, JSON.stringify(state), `old-${version}`, at],
      );
      const fields = {
        at: at.toISOString(),
        actor: 'ops',
        command: 'triad activate-layers',
        args: {},
        reason: null,
        correlation_id: `old-${version}`,
        before_version: version - 1,
        after_version: version,
        override: false,
        outcome: 'applied',
        undo_command: null,
        prev_hash: prev,
      };
      const hash = auditHash(fields);
      await old.pool.query(
        `INSERT INTO audit_log (at, actor, command, args, correlation_id, before_version, after_version, outcome,
                                prev_hash, hash) VALUES ($1, 'ops', 'triad activate-layers', '{}', $2, $3, $4, 'applied', $5, $6)`,
        [at, `old-${version}`, version - 1, version, prev, hash],
      );
      prev = hash;
    }
    await migrate(old.pool);

    // Before any node has started with the key, nothing seals them: verify says so rather than vouching for them.
    await expect(verifyAudit(old.pool, key)).resolves.toMatchObject({ ok: false, brokenAt: 2 });
    await expect(checkVersionSeal(old.pool, key, 2)).resolves.toMatchObject({ ok: false });
    // Nobody can append an unkeyed row after the migration.
    await expect(
      old.pool.query(
        `INSERT INTO audit_log (actor, command, args, correlation_id, outcome, prev_hash, hash, hash_alg)
         VALUES ('x', 'x', '{}', 'x', 'x', $1, $2, 'sha256')`,
        [prev, 'a'.repeat(64)],
      ),
    ).rejects.toThrow('audit_log accepts keyed rows only');

    // Two nodes starting at once: one seal row.
    expect((await Promise.all([sealLegacyRows(old.pool, key), sealLegacyRows(old.pool, key)])).sort()).toEqual([0, 2]);
    await expect(verifyAudit(old.pool, key)).resolves.toMatchObject({
      ok: true,
      rows: 3,
      legacyRows: 2,
      versions: 2,
      legacyVersions: 2,
    });
    const { rows: sealRows } = await old.pool.query<{ id: string }>(
      `SELECT id FROM audit_log WHERE command = 'triad audit seal'`,
    );
    const sealId = Number(sealRows[0]!.id);
    await expect(checkVersionSeal(old.pool, key, 2)).resolves.toMatchObject({
      ok: true,
      legacy: true,
      auditRow: sealId,
    });

    // The old rows and versions are now covered: a rewritten legacy version is named.
    await old.pool.query(`UPDATE desired_state_versions SET created_by = 'mallory' WHERE version = 1`);
    await expect(verifyAudit(old.pool, key)).resolves.toMatchObject({ ok: false, version: 1, brokenAt: sealId });
    await expect(checkVersionSeal(old.pool, key, 1)).resolves.toMatchObject({ ok: false });
  });
});
