import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nodeState, runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';

/**
 * A leader killed with SIGKILL while a run's activate step is under way: the node that takes the lead resumes the run
 * from its rows and finds the step's labelled version, so no step is applied twice. A cluster of its own, since the
 * test leaves it one node short.
 */
describe('rollout run across a leader killed mid-step', () => {
  let cluster: TestCluster;
  const q = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await cluster.db!.pool.query<T>(sql, params)).rows;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('kill -9 of the leader: the new leader completes the run, one version per rollout-<run>-<step>', async () => {
    const names = cluster.config.instances.map((i) => i.name);
    const states = await Promise.all(names.map(async (n) => [n, await nodeState(cluster.instance(n).grpc)] as const));
    const leader = states.find(([, s]) => s.leader)?.[0];
    expect(leader).toBeDefined();
    const [first, second] = names.filter((n) => n !== leader) as [string, string];
    const file = path.join(cluster.config.dir, 'rollouts', 'failover.yaml');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(
      file,
      [
        'name: failover',
        'steps:',
        `  - activate: { layers: [R1], instances: [${first}] }`,
        '  - wait: { for: 1d }',
        `  - activate: { layers: [R1], instances: [${second}] }`,
      ].join('\n'),
    );
    // Through a node that survives, so the CLI never talks to the one killed.
    const triad = (...args: string[]) =>
      runTriad([...args, '--config', cluster.config.clusterFile, '--target', cluster.instance(first).grpc]);
    expect((await triad('rollout', 'create', '-f', file)).code).toBe(0);
    const started = await triad('rollout', 'start', 'failover', '--json');
    expect(started.code, started.stderr).toBe(0);
    const runId = Number((JSON.parse(started.stdout) as { id: number }).id);

    // Kill the leader the moment step 1's version is committed: it is then still waiting for the instance to apply,
    // before it records the step as done (when it was quicker, the run is merely resumed at a later point).
    await waitFor(
      async () => (await q('SELECT 1 FROM desired_state_versions WHERE label = $1', [`rollout-${runId}-0`])).length > 0,
      30_000,
      "step 1's version",
    );
    const stepAtKill = await q<{ status: string }>(
      'SELECT status FROM rollout_steps WHERE run_id = $1 AND step_index = 0',
      [runId],
    );
    expect((await cluster.stopNode(leader!, 'SIGKILL')).signal).toBe('SIGKILL');
    console.info(`leader ${leader} killed with step 1 ${stepAtKill[0]?.status ?? 'not recorded'}`);
    // A survivor takes the lead and resumes the run; the node killed comes back as an operator would restart it (the
    // consensus gate refuses step 3 while a member is down, rightly).
    await waitFor(
      async () =>
        (await Promise.all([first, second].map((n) => nodeState(cluster.instance(n).grpc)))).some((s) => s.leader),
      30_000,
      'a survivor to take the lead',
    );
    cluster.startNode(leader!);

    const ended = await triad('rollout', 'status', 'failover', '--timeout', '60s', '--json');
    expect(ended.code, ended.stdout + ended.stderr).toBe(0);
    expect(JSON.parse(ended.stdout)).toMatchObject({ status: 'completed' });
    const labels = await q<{ label: string; n: number }>(
      'SELECT label, count(*)::int AS n FROM desired_state_versions WHERE label LIKE $1 GROUP BY label ORDER BY label',
      [`rollout-${runId}-%`],
    );
    expect(labels).toEqual([
      { label: `rollout-${runId}-0`, n: 1 },
      { label: `rollout-${runId}-2`, n: 1 },
    ]);
    const steps = await q<{ status: string; version: string | null }>(
      'SELECT status, version FROM rollout_steps WHERE run_id = $1 ORDER BY step_index',
      [runId],
    );
    expect(steps.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
    // Step 3 was written by the new leader: after the kill, by the run's own actor, on a survivor's watch.
    const leaders = await Promise.all(names.map(async (n) => [n, (await nodeState(cluster.instance(n).grpc)).leader]));
    expect(leaders.filter(([, l]) => l).map(([n]) => n)).not.toContain(leader);
  });
});
