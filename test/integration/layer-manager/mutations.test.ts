import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { expectAgreement, nodeState, rowCounts } from '../../fixtures/layer-assertions.js';

interface MutationJson {
  correlation_id: string;
  complete: boolean;
  plan: {
    before_version: number;
    after_version: number;
    undo_command: string;
    override: boolean;
    checks: { check: string; status: string }[];
  };
  instances: { instance: string; targeted: boolean; applied: boolean; reachable: boolean }[];
}

describe('layer management on a three-node cluster', () => {
  let cluster: TestCluster;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);
  const metric = async (instance: string, name: string) => {
    const text = await (await fetch(`http://${cluster.instance(instance).http}/metrics`)).text();
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith(name))
        ?.split(' ')
        .at(-1),
    );
  };

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('activate: one audited version, applied everywhere, metrics follow', async () => {
    const result = await triad(
      'activate-layers',
      '--layers',
      'R1,R2',
      '--instances',
      'alpha',
      '--json',
      '--correlation-id',
      'CHG-1',
    );
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as MutationJson;
    expect(json).toMatchObject({
      correlation_id: 'CHG-1',
      complete: true,
      plan: { before_version: 0, after_version: 1, undo_command: 'triad rollback --to-version 0' },
    });
    // The command waits for the instances it changes; the others are told too but not waited for (their answer may
    // come after the reply on a loaded machine), so "applied everywhere" is checked on the nodes themselves below.
    expect(json.instances.map((i) => [i.instance, i.targeted])).toEqual([
      ['alpha', true],
      ['beta', false],
      ['gamma', false],
    ]);
    expect(json.instances.find((i) => i.instance === 'alpha')?.applied).toBe(true);
    await expectAgreement(cluster, { alpha: 'R1 R2', beta: '-', gamma: '-' });
    expect(await metric('alpha', 'layer_enabled{layer="R2"}')).toBe(1);
    expect(await metric('beta', 'layer_enabled{layer="R2"}')).toBe(0);
    expect(await metric('gamma', 'desired_state_version')).toBe(1);
    const { rows } = await cluster.db!.pool.query(
      'SELECT actor, command, correlation_id, before_version, after_version, outcome, undo_command FROM audit_log',
    );
    expect(rows).toEqual([
      expect.objectContaining({
        command: 'triad activate-layers --layers R1,R2 --instances alpha',
        correlation_id: 'CHG-1',
        before_version: '0',
        after_version: '1',
        outcome: 'applied',
        undo_command: 'triad rollback --to-version 0',
      }),
    ]);
  });

  test('percentage rollout, deactivate, framework switches, label and rollback by number and label', async () => {
    expect((await triad('activate-layers', '--layers', 'R1', '--instances', 'beta', '--percentage', '10%')).code).toBe(
      0,
    );
    await expectAgreement(cluster, { alpha: 'R1 R2', beta: 'R1@10%', gamma: '-' });
    expect(
      (await triad('activate-layers', '--layers', 'R1,R2', '--instances', 'gamma', '--label', 'v1.4.0')).code,
    ).toBe(0);
    const labelled = await expectAgreement(cluster, { alpha: 'R1 R2', beta: 'R1@10%', gamma: 'R1 R2' });
    expect((await triad('deactivate-layers', '--layers', 'R2', '--instances', 'alpha')).code).toBe(0);
    await expectAgreement(cluster, { alpha: 'R1', beta: 'R1@10%', gamma: 'R1 R2' });

    expect((await triad('disable-framework', '--id', 'R2_CONSENT_AUTO_RESOLVER', '--reason', 'INC-9')).code).toBe(0);
    const desired = JSON.parse((await triad('status', '--json')).stdout) as {
      desired: { state: { disabled_frameworks: string[] } };
    };
    expect(desired.desired.state.disabled_frameworks).toEqual(['R2_CONSENT_AUTO_RESOLVER']);
    expect((await triad('enable-framework', '--id', 'R2_CONSENT_AUTO_RESOLVER')).code).toBe(0);

    const byNumber = await triad('rollback', '--to-version', '1', '--json');
    expect(byNumber.code).toBe(0);
    const rolled = await expectAgreement(cluster, { alpha: 'R1 R2', beta: '-', gamma: '-' });
    expect(rolled).toBeGreaterThan(labelled);
    expect((await triad('rollback', '--to-version', 'v1.4.0')).code).toBe(0);
    await expectAgreement(cluster, { alpha: 'R1 R2', beta: 'R1@10%', gamma: 'R1 R2' });
    expect(await metric('beta', 'layer_rollout_percentage{layer="R1"}')).toBe(10);
  });

  test('emergency-disable takes everything down in one version; a rollback restores exactly what was', async () => {
    const before = (await rowCounts(cluster)).versions;
    const result = await triad('emergency-disable', '--reason', 'INC-77 drill', '--json');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as MutationJson).instances.every((i) => i.targeted && i.applied)).toBe(true);
    await expectAgreement(cluster, { alpha: '-', beta: '-', gamma: '-' });
    expect((await rowCounts(cluster)).versions).toBe(before + 1);
    expect((await triad('rollback', '--to-version', String(before))).code).toBe(0);
    await expectAgreement(cluster, { alpha: 'R1 R2', beta: 'R1@10%', gamma: 'R1 R2' });
  });

  test('history lists every version without gaps, newest first; the audit chain verifies', async () => {
    const history = JSON.parse((await triad('history', '--limit', '100', '--json')).stdout) as {
      versions: { version: number; command: string }[];
    };
    const versions = history.versions.map((v) => v.version);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => versions.length - i));
    expect(history.versions.at(-1)?.command).toBe('triad activate-layers --layers R1,R2 --instances alpha');
    // The CLI reads PostgreSQL itself with the key beside the test's certificates, not a node's answer.
    const audit = await triad('audit', 'verify', '--database-url', cluster.databaseUrl);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/^audit log intact: \d+ rows/);
  });

  test('--dry-run prints the plan and changes nothing', async () => {
    const before = await rowCounts(cluster);
    const result = await triad('deactivate-layers', '--layers', 'R1', '--cascade', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dry run: nothing was written');
    expect(result.stdout).toMatch(/gamma\s+R2\s+deactivate[\s\S]*gamma\s+R1\s+deactivate/); // R2 before R1
    expect(await rowCounts(cluster)).toEqual(before);
  });

  test('a refused gate lists every check; --force needs a reason; an override is audited as such', async () => {
    const before = await rowCounts(cluster);
    const refused = await triad('activate-layers', '--layers', 'R3', '--instances', 'alpha');
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/FAIL\s+stable\s+R2\s+alpha\s+active [\d.]+\w+\s+stage 1 active ≥ 7d/);
    expect(refused.stdout).toMatch(/INCONCLUSIVE\s+amplification\s+R2\s+\*\s+n\/a/);
    expect(refused.stderr).toContain('[GATE_REFUSED]');
    expect((await rowCounts(cluster)).versions).toBe(before.versions);

    const noReason = await triad('activate-layers', '--layers', 'R3', '--instances', 'alpha', '--force');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('[USAGE] --force needs --reason');

    const forced = await triad(
      'activate-layers',
      '--layers',
      'R3',
      '--instances',
      'alpha',
      '--force',
      '--reason',
      'CHG-7 approved',
      '--json',
    );
    expect(forced.code).toBe(0);
    expect((JSON.parse(forced.stdout) as MutationJson).plan.override).toBe(true);
    const { rows } = await cluster.db!.pool.query<{ override: boolean; reason: string; outcome: string }>(
      'SELECT override, reason, outcome FROM audit_log ORDER BY id DESC LIMIT 2',
    );
    expect(rows).toEqual([
      { override: true, reason: 'CHG-7 approved', outcome: 'applied (gates overridden)' },
      { override: false, reason: null, outcome: 'refused: gates' },
    ]);
  });

  test('bad input: exit 2, a clear message, nothing written', async () => {
    const before = await rowCounts(cluster);
    const cases: [string[], string][] = [
      [['activate-layers', '--layers', 'R7'], 'unknown layer "R7" (layers: R1, R2, R3, R4, R5, R6)'],
      [['activate-layers', '--layers', ''], '--layers expects names separated by commas'],
      [
        ['activate-layers', '--layers', 'R1', '--instances', 'zeta'],
        'unknown instance "zeta" (instances: alpha, beta, gamma)',
      ],
      [['rollback', '--to-version', '999'], 'there is no version 999'],
      [['rollback', '--to-version', 'v9.9.9'], 'there is no a version labelled "v9.9.9"'],
      [
        ['activate-layers', '--layers', 'R1', '--percentage', 'ten'],
        '--percentage must be a whole number from 1 to 100, received "ten"',
      ],
      [
        ['activate-layers', '--layers', 'R1', '--percentage', '0'],
        '--percentage must be a whole number from 1 to 100, received "0"',
      ],
      [['disable-framework', '--id', 'R9_X'], 'unknown framework "R9_X"'],
    ];
    for (const [args, message] of cases) {
      const result = await triad(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
    }
    expect(await rowCounts(cluster)).toEqual(before);
  });

  test('exactly one node leads; when it dies another takes over', async () => {
    const states = await Promise.all(['alpha', 'beta', 'gamma'].map((n) => nodeState(cluster.instance(n).grpc)));
    const leaders = states.filter((s) => s.leader).map((s) => s.instance);
    expect(leaders).toHaveLength(1);
    const old = leaders[0]!;
    await cluster.stopNode(old, 'SIGKILL');
    const others = ['alpha', 'beta', 'gamma'].filter((n) => n !== old);
    await waitFor(
      async () => (await Promise.all(others.map((n) => nodeState(cluster.instance(n).grpc)))).some((s) => s.leader),
      10_000,
      'a new leader',
    );
    cluster.startNode(old);
    await cluster.waitReady();
    const after = await Promise.all(['alpha', 'beta', 'gamma'].map((n) => nodeState(cluster.instance(n).grpc)));
    expect(after.filter((s) => s.leader)).toHaveLength(1);
  });
});
