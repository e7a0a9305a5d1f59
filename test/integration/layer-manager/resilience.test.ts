import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTriad, TestCluster } from '../../fixtures/cluster.js';
import { expectAgreement, nodeState } from '../../fixtures/layer-assertions.js';

describe('concurrent changes and a node that misses one', () => {
  let cluster: TestCluster;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('six changes at once are serialised: every one lands, versions 1…6 without gaps, no lost update', async () => {
    const changes = [
      ['activate-layers', '--layers', 'R1', '--instances', 'alpha', '--percentage', '10'],
      ['activate-layers', '--layers', 'R1', '--instances', 'beta', '--percentage', '20'],
      ['activate-layers', '--layers', 'R1', '--instances', 'gamma', '--percentage', '30'],
      ['disable-framework', '--id', 'R3_TRIGGER_DETECTION'],
      ['disable-framework', '--id', 'R4_FEEDBACK_COMPOSITION'],
      ['disable-framework', '--id', 'R6_STRATEGIC_ORCHESTRATION'],
    ];
    // Each through a different node, so the lock is contended across processes, not within one.
    const targets = ['alpha', 'beta', 'gamma'].map((n) => cluster.instance(n).grpc);
    // With this cluster's config: activate-layers prechecks the config's nodes before sending its change.
    const results = await Promise.all(changes.map((args, i) => triad(...args, '--target', targets[i % 3]!)));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const { rows } = await cluster.db!.pool.query<{ version: string }>(
      'SELECT version FROM desired_state_versions ORDER BY version',
    );
    expect(rows.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
    await expectAgreement(cluster, { alpha: 'R1@10%', beta: 'R1@20%', gamma: 'R1@30%' });
    const status = JSON.parse((await triad('status', '--json')).stdout) as {
      desired: { state: { disabled_frameworks: string[] } };
    };
    expect(status.desired.state.disabled_frameworks).toEqual([
      'R3_TRIGGER_DETECTION',
      'R4_FEEDBACK_COMPOSITION',
      'R6_STRATEGIC_ORCHESTRATION',
    ]);
    // The CLI reads PostgreSQL itself with the key beside the test's certificates, not a node's answer.
    const audit = await triad('audit', 'verify', '--database-url', cluster.databaseUrl);
    expect(audit.stdout, audit.stderr).toContain('audit log intact: 6 rows');
  });

  test('a node dead when a version is written applies it on restart; the command names it and exits 1', async () => {
    await cluster.stopNode('gamma', 'SIGKILL');
    // Break-glass changes skip the gates (a dead node would fail "healthy") and wait for every instance.
    const result = await triad(
      'disable-framework',
      '--id',
      'R5_CROSS_INSTANCE_D1',
      '--reason',
      'INC-5',
      '--timeout',
      '2',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[TIMEOUT] gamma did not apply v7 within 2s');
    expect(result.stdout).toMatch(/gamma\s+NOT applied/);
    const { rows } = await cluster.db!.pool.query<{ v: string }>(
      'SELECT max(version) AS v FROM desired_state_versions',
    );
    expect(Number(rows[0]!.v)).toBe(7);
    expect((await nodeState(cluster.instance('alpha').grpc)).applied_version).toBe(7);

    cluster.startNode('gamma');
    await cluster.waitReady();
    expect((await nodeState(cluster.instance('gamma').grpc)).applied_version).toBe(7);
    await expectAgreement(cluster, { alpha: 'R1@10%', beta: 'R1@20%', gamma: 'R1@30%' });
  });

  test('JSON output lists every instance, the unreachable one included, with its state', async () => {
    await cluster.stopNode('beta', 'SIGKILL');
    const result = await triad('enable-framework', '--id', 'R5_CROSS_INSTANCE_D1', '--timeout', '1', '--json');
    expect(result.code).toBe(1);
    const json = JSON.parse(result.stdout) as {
      complete: boolean;
      instances: { instance: string; reachable: boolean; applied: boolean; error: string }[];
    };
    expect(json.complete).toBe(false);
    expect(json.instances.map((i) => [i.instance, i.reachable, i.applied])).toEqual([
      ['alpha', true, true],
      ['beta', false, false],
      ['gamma', true, true],
    ]);
    expect(json.instances[1]?.error).not.toBe('');
    cluster.startNode('beta');
    await cluster.waitReady();
  });
});
