import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readyOf, runTriad, scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';

/**
 * The audit chain as a running cluster writes and checks it: nodes read the key beside their certificates, audit the
 * actions that change no desired state before they act, and refuse a version whose audit row does not verify.
 */
describe('audit on a live cluster', () => {
  let cluster: TestCluster;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);
  const commands = async () =>
    (
      await cluster.db!.pool.query<{ command: string; actor: string }>(
        'SELECT command, actor FROM audit_log ORDER BY id',
      )
    ).rows;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.waitReady();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a forced sync and an R6 run are audited, as the operator, and the CLI verifies the chain with the key', async () => {
    expect((await triad('force-consensus-sync', '--json')).code).toBe(0);
    // R6 is not active, so the run is refused; it was still asked for, and audited before anything ran.
    expect((await triad('run-r6-orchestration', '--json')).code).not.toBe(0);
    const rows = await commands();
    expect(rows.map((r) => r.command)).toEqual(['triad force-consensus-sync', 'triad run-r6-orchestration']);
    expect(rows.every((r) => r.actor.includes('operator'))).toBe(true);

    const verified = await triad('audit', 'verify', '--json', '--database-url', cluster.databaseUrl);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, rows: 2, versions: 0 });
  });

  test('a forced sync whose audit row cannot be written fails with the reason and leaves no row', async () => {
    const pool = cluster.db!.pool;
    await pool.query(`CREATE FUNCTION refuse_sync() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.command LIKE 'triad force-consensus-sync%' THEN RAISE EXCEPTION 'audit store refuses'; END IF;
      RETURN NEW; END $$`);
    await pool.query(
      'CREATE TRIGGER refuse_sync BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_sync()',
    );
    try {
      const result = await triad('force-consensus-sync', '--json');
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('audit store refuses');
      // That the epoch itself never starts is shown in test/unit/edges/admin-audit.test.ts: in a live cluster, epochs
      // kicked by leadership and peer changes cannot be told apart from a forced one.
      expect((await commands()).filter((r) => r.command === 'triad force-consensus-sync')).toHaveLength(1);
    } finally {
      await pool.query('DROP TRIGGER refuse_sync ON audit_log; DROP FUNCTION refuse_sync()');
    }
  });

  test("a version inserted behind triad's back is refused by every node, counted and shown on /ready", async () => {
    const activated = await triad('activate-layers', '--layers', 'R1', '--force', '--reason', 'audit test', '--json');
    expect(activated.code, activated.stderr).toBe(0);
    const pool = cluster.db!.pool;
    await pool.query(
      `INSERT INTO desired_state_versions (version, state, created_by, command, correlation_id)
       SELECT 2, jsonb_set(state, '{emergency_disabled}', 'true'), 'mallory', 'triad emergency-disable', 'forged'
         FROM desired_state_versions WHERE version = 1`,
    );
    await pool.query(`NOTIFY triad_desired_state, '2'`);
    for (const { name, http } of cluster.config.instances) {
      await waitFor(
        async () => (await readyOf(http)).reasons.some((r) => r.includes('desired state: version 2 refused')),
        15_000,
        `${name} to refuse version 2`,
      );
      expect(await scrapeValue(http, 'triad_desired_state_refused_total')).toBe(1);
      expect(await scrapeValue(http, 'desired_state_version')).toBe(1);
    }
    const verified = await triad('audit', 'verify', '--json', '--database-url', cluster.databaseUrl);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain('desired-state version 2 has no audit row that created it');
  });
});
