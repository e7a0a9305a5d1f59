import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { TestPrometheus } from '../../fixtures/prometheus.js';
import { promtoolHint, requireCommand } from '../../fixtures/services.js';

/**
 * PromQL analysis against a real Prometheus (Debian's server on loopback) scraping a real demo cluster: the leader's
 * executor queries it like any check. A query that holds lets the run complete; an empty vector is INCONCLUSIVE, which
 * past inconclusiveLimit pauses the run for a human instead of passing or failing it.
 */
describe('rollout analysis with PromQL against a real Prometheus', () => {
  let cluster: TestCluster | undefined;
  let prometheus: TestPrometheus | undefined;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster!.config.clusterFile]);
  const write = (file: string, lines: string[]) => {
    const full = path.join(cluster!.config.dir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, lines.join('\n'));
    return full;
  };
  const template = (name: string, query: string, condition: string, extra: string[] = []) =>
    write(`analysis/${name}.yaml`, [
      `name: ${name}`,
      'metrics:',
      `  - name: ${name}-check`,
      '    interval: 1s',
      '    count: 2',
      `    successCondition: '${condition}'`,
      ...extra,
      `    provider: { prometheus: { address: '${prometheus!.url}', query: '${query}' } }`,
    ]);

  beforeAll(async () => {
    requireCommand('prometheus', promtoolHint);
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    await cluster.waitReady();
    prometheus = await TestPrometheus.start({
      targets: cluster.config.instances.map((i) => ({ instance: i.name, address: i.http })),
    });
    // Prometheus applies new targets on a 5 s tick: wait for the first scrape of every node.
    await waitFor(
      async () => (await prometheus!.query('consensus_converged == 1')).length === 3,
      30_000,
      'consensus_converged scraped from every node',
    );
  });

  afterAll(async () => {
    await prometheus?.stop();
    await cluster?.stop();
  });

  test('a query that holds passes: the analysis step completes with PASS measurements', async () => {
    // Scraped series, not the consensus outcome: on a starved machine an epoch may diverge, which is no PromQL matter.
    template('converged', 'count(triad_node_info)', 'result == 3');
    const plan = write('rollouts/prom-pass.yaml', [
      'name: prom-pass',
      'steps:',
      '  - analysis: { template: converged }',
    ]);
    expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
    expect((await triad('rollout', 'start', 'prom-pass')).code).toBe(0);
    const ended = await triad('rollout', 'status', 'prom-pass', '--timeout', '45s', '--json');
    expect(ended.code, ended.stdout + ended.stderr).toBe(0);
    const view = JSON.parse(ended.stdout) as { status: string; analysis: { check: string; phase: string }[] };
    expect(view.status).toBe('completed');
    const rows = (
      await cluster!.db!.pool.query<{ phase: string; value: number; detail: string }>(
        "SELECT phase, value, detail FROM rollout_measurements WHERE check_name = 'converged-check' ORDER BY id",
      )
    ).rows;
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.every((r) => r.phase === 'PASS' && r.value === 3)).toBe(true);
  });

  test('an empty result is INCONCLUSIVE, and past inconclusiveLimit the run pauses (exit 3), never passes', async () => {
    template('absent', 'triad_no_such_series', 'result < 1', ['    inconclusiveLimit: 1']);
    const plan = write('rollouts/prom-empty.yaml', [
      'name: prom-empty',
      'steps:',
      '  - analysis: { template: absent }',
    ]);
    expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
    expect((await triad('rollout', 'start', 'prom-empty')).code).toBe(0);
    const ended = await triad('rollout', 'status', 'prom-empty', '--timeout', '45s', '--json');
    expect(ended.code, ended.stdout + ended.stderr).toBe(3);
    const view = JSON.parse(ended.stdout) as { status: string; message: string };
    expect(view.status).toBe('paused');
    expect(view.message).toMatch(/^INCONCLUSIVE absent\/absent-check: empty result for triad_no_such_series/);
    const rows = (
      await cluster!.db!.pool.query<{ phase: string; value: number | null }>(
        "SELECT phase, value FROM rollout_measurements WHERE check_name = 'absent-check' ORDER BY id",
      )
    ).rows;
    expect(rows).toEqual([
      { phase: 'INCONCLUSIVE', value: null },
      { phase: 'INCONCLUSIVE', value: null },
    ]);
    expect((await triad('rollout', 'abort', 'prom-empty', '--reason', 'no data')).code).toBe(0);
  });
});
