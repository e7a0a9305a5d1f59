import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';

/**
 * Rollout plans on a real demo cluster: three node processes, real PostgreSQL, durations compressed by the demo
 * profile. The plans are short versions of the shipped ones, so the file runs in well under a minute.
 */
describe('rollout plans on a demo cluster', () => {
  let cluster: TestCluster;
  let dir: string;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);
  const q = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await cluster.db!.pool.query<T>(sql, params)).rows;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
    return path.join(dir, file);
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    dir = cluster.config.dir;
    write(
      'analysis/guard.yaml',
      [
        'name: guard',
        'metrics:',
        '  - name: consensus-error',
        '    interval: 1s',
        '    successCondition: result < 0.05',
        '    failureLimit: 3',
        '    inconclusiveLimit: 100',
        '    provider: { triad: { figure: consensus_error } }',
        '  - name: alpha',
        '    interval: 1s',
        '    count: 2',
        '    successCondition: result within 10% of 2.07',
        '    failureLimit: 1',
        '    inconclusiveLimit: 100',
        '    provider: { triad: { figure: amplification, layer: R2 } }',
      ].join('\n'),
    );
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a plan runs to completion through an approval; status --timeout exits 3 while it waits, 0 when done', async () => {
    const plan = write(
      'rollouts/short.yaml',
      [
        'name: short',
        'analysis: { templates: [guard] }',
        'steps:',
        '  - activate: { layers: [R1, R2], instances: [alpha] }',
        '  - wait: { for: 1d }',
        '  - activate: { layers: [R1, R2], instances: [beta, gamma] }',
        "  - approve: { note: 'stage 1 go/no-go' }",
        '  - activate: { layers: [R1], percentage: 100 }',
      ].join('\n'),
    );
    const created = await triad('rollout', 'create', '-f', plan, '--json');
    expect(created.code, created.stderr).toBe(0);
    const view = JSON.parse(created.stdout) as { steps: { description: string; detectionBudget?: unknown[] }[] };
    expect(view.steps.map((s) => s.description)).toEqual([
      'activate R1+R2 on alpha',
      'wait 1d (1.7s here)',
      'activate R1+R2 on beta,gamma',
      'approval: stage 1 go/no-go',
      'activate R1 on every instance',
    ]);
    expect(view.steps[0]!.detectionBudget!.length).toBeGreaterThan(0);

    const before = Number(
      (await q<{ v: string }>('SELECT coalesce(max(version), 0) AS v FROM desired_state_versions'))[0]!.v,
    );
    expect((await triad('rollout', 'start', 'short')).code).toBe(0);
    // While the first run is under way, a second start of the same plan is refused.
    const again = await triad('rollout', 'start', 'short');
    expect([again.code, again.stderr]).toEqual([
      2,
      expect.stringMatching(/rollout short #1 is already (running|waiting approval)/),
    ]);

    const waiting = await triad('rollout', 'status', 'short', '--timeout', '45s', '--json');
    expect(waiting.code, waiting.stdout + waiting.stderr).toBe(3);
    expect(JSON.parse(waiting.stdout)).toMatchObject({ status: 'waiting_approval', stepIndex: 3 });
    const noReason = await triad('rollout', 'approve', 'short');
    expect(noReason.code).toBe(2);
    const approved = await triad('rollout', 'approve', 'short', '--reason', 'figures in band');
    expect(approved.code, approved.stderr).toBe(0);
    const done = await triad('rollout', 'status', 'short', '--timeout', '45s', '--json');
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const final = JSON.parse(done.stdout) as {
      status: string;
      steps: { status: string; actor?: string; note?: string }[];
    };
    expect(final.status).toBe('completed');
    expect(final.steps[3]).toMatchObject({ status: 'completed', note: 'approved: figures in band' });

    // Each activate step wrote exactly one version, labelled with the run and step (the idempotency key).
    const versions = await q<{ version: string; label: string | null; created_by: string }>(
      'SELECT version, label, created_by FROM desired_state_versions WHERE version > $1 ORDER BY version',
      [before],
    );
    expect(versions.map((v) => v.label)).toEqual(['rollout-1-0', 'rollout-1-2', 'rollout-1-4']);
    expect(new Set(versions.map((v) => v.created_by))).toEqual(new Set(['triad (rollout short #1)']));
    const audit = await q<{ command: string; reason: string | null }>(
      "SELECT command, reason FROM audit_log WHERE command LIKE 'triad rollout%' ORDER BY id",
    );
    expect(audit.map((a) => a.command)).toEqual([
      `triad rollout create -f ${plan}`,
      'triad rollout start short',
      'triad rollout approve short',
    ]);
    expect(audit[2]!.reason).toBe('figures in band');
    const events = (await q<{ kind: string }>('SELECT kind FROM rollout_events ORDER BY id')).map((e) => e.kind);
    expect(events[0]).toBe('started');
    expect(events.at(-1)).toBe('completed');
    expect(events).toContain('waiting_approval');
  });

  test('a failing check aborts the run and one new version restores the pre-run state on every node', async () => {
    const plan = write(
      'rollouts/faulty.yaml',
      [
        'name: faulty',
        'steps:',
        '  - activate: { layers: [R1, R2] }',
        '  - analysis: { template: guard }',
        '  - activate: { layers: [R3] }',
      ].join('\n'),
    );
    expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
    const pre = await q<{ version: string; state: unknown }>(
      'SELECT version, state FROM desired_state_versions ORDER BY version DESC LIMIT 1',
    );
    // R2 on gamma at half its burden: α there falls to about 1.0, outside 10 % of 2.07.
    expect((await triad('inject-fault', '--instance', 'gamma', '--layer', 'R2', '--burden-scale', '0.5')).code).toBe(0);
    try {
      expect((await triad('rollout', 'start', 'faulty')).code).toBe(0);
      const ended = await triad('rollout', 'status', 'faulty', '--timeout', '50s', '--json');
      expect(ended.code, ended.stdout + ended.stderr).toBe(1);
      const view = JSON.parse(ended.stdout) as {
        status: string;
        stepIndex: number;
        failure: Record<string, unknown>;
        abortVersion: number;
      };
      expect(view.status).toBe('aborted');
      expect(view.failure, JSON.stringify(view.failure)).toMatchObject({
        template: 'guard',
        check: 'alpha',
        phase: 'FAIL',
      });
      expect(view.failure.detail).toMatch(/^R2 on gamma: 1\.\d+ \(needs within 10% of 2\.07/);
      const after = await q<{ version: string; state: unknown; label: string; reason: string }>(
        'SELECT version, state, label, reason FROM desired_state_versions ORDER BY version DESC LIMIT 1',
      );
      expect(after[0]!.label).toBe('rollout-2-abort');
      expect(after[0]!.state).toEqual(pre[0]!.state);
      expect(after[0]!.reason).toMatch(/FAIL guard\/alpha: R2 on gamma/);
      expect(Number(after[0]!.version)).toBe(view.abortVersion);
      await waitFor(
        async () =>
          (
            await q<{ n: number }>('SELECT count(*)::int AS n FROM instance_state WHERE applied_version >= $1', [
              view.abortVersion,
            ])
          )[0]!.n === 3,
        15_000,
        'every node on the abort version',
      );
    } finally {
      await triad('inject-fault', '--instance', 'gamma', '--layer', 'R2', '--clear');
    }
  });
});
