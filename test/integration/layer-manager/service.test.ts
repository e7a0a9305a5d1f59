import { createSecretKey, randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import {
  BandTracker,
  createDesiredStateStore,
  DesiredStateApplier,
  LayerManager,
  parseMutation,
} from '../../../src/layer-manager/index.js';
import { fromWireMutation, toWireResult, type MutationRequest } from '../../../src/protocol/index.js';
import { systemClock } from '../../../src/shared/index.js';
import {
  createPool,
  lockKeys,
  migrate,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type StoragePool,
} from '../../../src/storage/index.js';
import { repoRoot } from '../../fixtures/cluster.js';
import { createTestDatabase, embeddedDataDir, type TestDatabase } from '../../fixtures/postgres.js';

const log = pino({ level: 'silent' });
const auditKey = createSecretKey(randomBytes(32));
const config = loadConfig({ env: {}, cwd: repoRoot });
const members = ['alpha'];
const options = { dry_run: false, force: false, reason: '', label: '', timeout_ms: 5_000, actor: 'test@host' };
const activateR1 = (percentage: number): MutationRequest => ({
  command: 'activate',
  activate: { layers: ['R1'], instances: ['alpha'], percentage },
  options,
});

/** A Mutate request carried out as the Admin edge does: decoded, checked, mutated, the result encoded. */
async function mutate(manager: LayerManager, request: MutationRequest, correlationId: string) {
  const { input, options: sent } = fromWireMutation(request);
  const mutation = parseMutation(input, { config: config.layers, instances: members });
  return toWireResult(await manager.mutate(mutation, { ...sent, actor: sent.actor ?? 'unknown', correlationId }));
}

interface Engine {
  url: string;
  close(): Promise<void>;
}

async function machine(): Promise<Engine> {
  const db: TestDatabase = await createTestDatabase();
  return { url: db.url, close: () => db.drop() };
}

async function embedded(): Promise<Engine> {
  const engine: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir: embeddedDataDir() });
  const pool = createPool(engine.url, { applicationName: 'triad-test' });
  await migrate(pool);
  await pool.end();
  return { url: engine.url, close: async () => void (await engine.stop()) };
}

/**
 * The layer manager's storage path, run on both engines the README promises: the machine's PostgreSQL and the
 * embedded one `triad up` starts. One in-process node ("alpha") applies what it writes through its real applier.
 */
describe.each([
  ['machine PostgreSQL', machine],
  ['embedded engine', embedded],
])('layer manager on %s', (_name, start) => {
  let engine: Engine;
  let pool: StoragePool;
  let applier: DesiredStateApplier;
  const managers: LayerManager[] = [];
  const pools: StoragePool[] = [];

  const manager = (lockWaitMs = 5_000) => {
    const p = createPool(engine.url, { applicationName: 'triad-test' });
    pools.push(p);
    const m = new LayerManager({
      pool: p,
      store: createDesiredStateStore(members),
      auditKey,
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
      lockWaitMs,
    });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    engine = await start();
    pool = createPool(engine.url, { applicationName: 'triad-test' });
    applier = new DesiredStateApplier({
      pool,
      databaseUrl: engine.url,
      store: createDesiredStateStore(members),
      self: 'alpha',
      clock: systemClock,
      log,
      auditKey,
      onApplied: () => undefined,
    });
    await applier.start();
  }, 60_000);

  afterAll(async () => {
    await applier?.stop();
    await Promise.all([pool, ...pools].map((p) => p?.end()));
    await engine?.close();
  });

  test('ten concurrent changes from two managers on separate pools serialise into ten contiguous versions', async () => {
    // Stage-1 activations have no earlier stage to wait for; with no consensus yet they are forced (audited).
    const forced = (p: number): MutationRequest => ({
      ...activateR1(p),
      options: { ...options, force: true, reason: 'test' },
    });
    const [a, b] = [manager(), manager()];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => mutate(i % 2 ? a : b, forced(i + 1), `c-${i}`)),
    );
    expect(results.every((r) => r.complete)).toBe(true);
    const { rows } = await pool.query<{ version: string; pct: number; command: string }>(
      `SELECT version, (state->'instances'->'alpha'->'R1'->>'percentage')::int AS pct, command FROM desired_state_versions ORDER BY version`,
    );
    expect(rows.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // No lost update: each version holds exactly the percentage its own command asked for.
    for (const row of rows) expect(row.command).toContain(`--percentage ${row.pct}`);
    expect(applier.applied.version).toBe(10);
  });

  test('a change that cannot get the cluster lock in time is refused with LOCK_HELD and writes nothing', async () => {
    const holder = new pg.Client({ connectionString: engine.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeys.clusterDeployment]);
      await expect(mutate(manager(200), activateR1(55), 'locked')).rejects.toMatchObject({
        code: 'LOCK_HELD',
      });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM desired_state_versions');
    expect(Number(rows[0]!.n)).toBe(10);
  });

  test('a dry run writes nothing; rollback to 0 turns everything off as a new version', async () => {
    const count = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            'SELECT (SELECT count(*) FROM desired_state_versions) + (SELECT count(*) FROM audit_log) AS n',
          )
        ).rows[0]!.n,
      );
    const before = await count();
    const dry = await mutate(
      manager(),
      { command: 'rollback', rollback: { to: '0' }, options: { ...options, dry_run: true } },
      'dry',
    );
    expect(dry.plan).toMatchObject({ dry_run: true, before_version: 10, after_version: 11 });
    expect(await count()).toBe(before);
    const real = await mutate(manager(), { command: 'rollback', rollback: { to: '0' }, options }, 'undo');
    expect(real.plan.transitions).toEqual([
      expect.objectContaining({ instance: 'alpha', subject: 'R1', action: 'deactivate', to_percentage: 0 }),
    ]);
    expect(applier.applied.state.instances.alpha?.R1.enabled).toBe(false);
  });
});
