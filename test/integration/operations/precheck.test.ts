import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTriad, TestCluster } from '../../fixtures/cluster.js';
import { cliCertificateEnv } from '../../fixtures/grpc.js';

interface PrecheckJson {
  ok: boolean;
  failed: string[];
  checks: { id: string; status: string; value: string; detail?: string }[];
}

describe('triad precheck against a running cluster', () => {
  let cluster: TestCluster;
  const precheck = async () => {
    // The test cluster's certificates are issued for 30 days: ask for 7 days' validity, not the default 30.
    const args = ['precheck', '--json', '--min-cert-days', '7', '--config', cluster.config.clusterFile];
    const result = await runTriad(args, {
      env: { DATABASE_URL: cluster.databaseUrl, ...cliCertificateEnv(cluster.instance('alpha').grpc) },
    });
    return { ...result, json: JSON.parse(result.stdout) as PrecheckJson };
  };

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('passes on a healthy cluster, every check with its measured value', async () => {
    const { code, json, stderr } = await precheck();
    expect(json.failed, stderr).toEqual([]);
    expect(code).toBe(0);
    const byId = Object.fromEntries(json.checks.map((c) => [c.id, c]));
    expect(byId.nodes_reachable).toMatchObject({ status: 'PASS', value: '3/3 reachable' });
    expect(byId.nodes_ready).toMatchObject({ status: 'PASS', value: '3/3 ready' });
    expect(byId.migrations?.status).toBe('PASS');
    expect(byId.deployment_lock).toMatchObject({ status: 'PASS', value: 'free' });
    expect(byId.audit_chain?.status).toBe('PASS');
    expect(byId.clock_skew?.status).toBe('PASS');
    // No backup was ever taken: a warning about the RPO, not a failure.
    expect(byId.backup_age).toMatchObject({ status: 'WARN', value: 'never' });
    expect(byId.certificates?.status).toBe('PASS');
  });

  const triad = (...args: string[]) =>
    runTriad([...args, '--config', cluster.config.clusterFile], {
      env: { DATABASE_URL: cluster.databaseUrl, ...cliCertificateEnv(cluster.instance('alpha').grpc) },
    });
  const latestVersion = async () =>
    Number(
      (await cluster.db!.pool.query<{ v: string }>('SELECT max(version)::text AS v FROM desired_state_versions'))
        .rows[0]!.v,
    );

  test('activate-layers passes its precheck on a healthy cluster and changes the desired state', async () => {
    const before = await latestVersion();
    const result = await triad('activate-layers', '--layers', 'R1', '--instances', 'alpha', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(await latestVersion()).toBe(before + 1);
  });

  test('fails and names the check when one node is stopped', async () => {
    await cluster.stopNode('gamma', 'SIGKILL');
    const { code, json, stdout } = await precheck();
    expect(code).toBe(1);
    expect(json.ok).toBe(false);
    expect(json.failed).toContain('nodes_reachable');
    const reachable = json.checks.find((c) => c.id === 'nodes_reachable');
    expect(reachable, stdout).toMatchObject({ status: 'FAIL', value: '2/3 reachable' });
    expect(reachable?.detail).toMatch(/^gamma: /);

    const table = await runTriad(['precheck', '--config', cluster.config.clusterFile], {
      env: { DATABASE_URL: cluster.databaseUrl, ...cliCertificateEnv(cluster.instance('alpha').grpc) },
    });
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/nodes_reachable\s+FAIL\s+2\/3 reachable\s+gamma: /);
    expect(table.stdout).toContain('precheck FAILED: nodes_reachable');
  });

  test('activate-layers refuses with the failing checks while a node is down, unless skipped with a reason (audited)', async () => {
    // gamma was stopped by the test before.
    const before = await latestVersion();
    const refused = await triad('activate-layers', '--layers', 'R2', '--instances', 'alpha');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/precheck failed \(nothing was changed\)/);
    expect(refused.stdout).toMatch(/nodes_reachable\s+FAIL\s+2\/3 reachable\s+gamma: /);
    expect(refused.stderr).toContain('[PRECHECK_FAILED] precheck failed: nodes_reachable (2/3 reachable: gamma: ');
    expect(refused.stderr).toContain('--skip-precheck --reason');
    expect(await latestVersion()).toBe(before);

    const noReason = await triad('activate-layers', '--layers', 'R2', '--instances', 'alpha', '--skip-precheck');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('[USAGE] --skip-precheck needs --reason');
    expect(await latestVersion()).toBe(before);

    // Skipped with a reason: the change goes to the node (the gates still apply; --force overrides them, audited).
    const skipped = await triad(
      'activate-layers',
      '--layers',
      'R2',
      '--instances',
      'alpha',
      '--skip-precheck',
      '--force',
      '--reason',
      'gamma is being replaced',
      '--timeout',
      '20',
    );
    expect(skipped.code, skipped.stderr + skipped.stdout).toBe(0);
    expect(await latestVersion()).toBe(before + 1);
    const { rows } = await cluster.db!.pool.query<{ reason: string; command: string }>(
      'SELECT reason, command FROM audit_log WHERE after_version = $1',
      [before + 1],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toBe('precheck skipped: gamma is being replaced');
  });

  test('rollout start runs the same precheck: refused while a node is down, nothing started', async () => {
    // gamma is still stopped. Creating a plan changes nothing in the cluster; starting a run would.
    const dir = mkdtempSync(path.join(tmpdir(), 'triad-precheck-plan-'));
    try {
      const plan = path.join(dir, 'hold.yaml');
      writeFileSync(plan, ['name: hold', 'steps:', '  - wait: { for: 60d }'].join('\n'));
      expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
      const refused = await triad('rollout', 'start', 'hold');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('[PRECHECK_FAILED] precheck failed: nodes_reachable (2/3 reachable: gamma: ');
      const noReason = await triad('rollout', 'start', 'hold', '--skip-precheck');
      expect(noReason.code).toBe(2);
      expect(noReason.stderr).toContain('[USAGE] --skip-precheck needs --reason');
      const runs = await cluster.db!.pool.query('SELECT id FROM rollout_runs');
      expect(runs.rows).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad input is a usage error (exit 2) naming the valid check ids', async () => {
    const result = await runTriad(['precheck', '--only', 'nodes,bogus', '--config', cluster.config.clusterFile]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('[USAGE] --only: unknown check "nodes, bogus" (known: config, nodes_reachable');
  });
});
