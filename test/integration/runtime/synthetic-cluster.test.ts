import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { promtoolFindings } from '../../fixtures/promtool.js';
import { nodeState, runTriad, scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';

/** Every metric DESIGN §6 names, exported once the cascade has run for a while. */
const designMetrics = [
  'framework_fires_total',
  'framework_operations_total',
  'framework_operations_success_total',
  'framework_operations_errors_total',
  'operation_duration_seconds',
  'framework_operation_queue_depth',
  'burden_saved_seconds_total',
  'amplification_ratio',
  'r1_sovereignty_score',
  'r1_baseline_burden_seconds',
  'r2_alpha_amplification',
  'r2_bridges_active',
  'r3_beta_amplification',
  'r3_triggers_detected',
  'r3_frameworks_composed',
  'r4_gamma_amplification',
  'r4_meta_frameworks_active',
  'r4_composition_success_rate',
  'r5_delta_amplification',
  'r5_cross_instance_operations',
  'r6_epsilon_amplification',
  'r6_strategic_orchestrations',
  'consensus_error',
  'consensus_time_seconds',
  'consensus_converged',
  'consensus_rounds',
  'consensus_lambda2',
  'layer_enabled',
  'desired_state_version',
  'instance_divergence',
];

interface StatusJson {
  cascade: { total: number; layers: { layer: string; amplification: number; reporting_instances: number }[] };
}

describe('the synthetic pack on a three-node demo cluster', () => {
  let cluster: TestCluster;
  /** The demo window, and when every node had applied the whole cascade. */
  const windowMs = 8_000;
  let activatedAt: number;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);

  beforeAll(async () => {
    cluster = await TestCluster.start({
      extraYaml: `synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: ${windowMs / 1000}s\nconsensus:\n  demo_interval: 500ms\n`,
      env: { TRIAD_PROFILE: 'demo' },
    });
    await cluster.waitReady();
    await cluster.waitForEpoch();
    // The whole cascade at once: the gates have their own tests; this suite is about what the frameworks measure.
    const up = await triad(
      'activate-layers',
      '--layers',
      'R1,R2,R3,R4,R5,R6',
      '--force',
      '--reason',
      'synthetic suite',
    );
    expect(up.code, up.stderr).toBe(0);
    activatedAt = Date.now(); // the command returns once every node has applied it
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('every agreed ratio lands inside its acceptable range', async () => {
    expect((await triad('run-r6-orchestration')).code).toBe(0);
    // Agreed figures come from the newest epoch: wait for one whose snapshot holds a full window of every layer (a
    // short one counts few runs, ±1 run of 250 ms is a large share of it) and the R6 run. R6 stays fresh for 1.5 of
    // its demo periods (18 s).
    const from = Math.max(Date.now(), activatedAt + windowMs);
    await waitFor(
      async () => (await nodeState(cluster.instance('alpha').grpc)).consensus.last_epoch_at_ms >= from,
      10_000 + windowMs,
      'an epoch a full window after activation and after the R6 run',
    );
    const status = JSON.parse((await triad('status', '--json')).stdout) as StatusJson;
    const bands: Record<string, [number, number]> = {
      R2: [1.85, 2.3],
      R3: [2.8, 3.8],
      R4: [1.8, 2.6],
      R5: [4.0, 5.9],
      R6: [4.5, 7.0],
    };
    for (const [layer, [low, high]] of Object.entries(bands)) {
      const figure = status.cascade.layers.find((l) => l.layer === layer)!;
      expect(figure.reporting_instances, layer).toBeGreaterThan(0);
      expect(figure.amplification, layer).toBeGreaterThanOrEqual(low);
      expect(figure.amplification, layer).toBeLessThanOrEqual(high);
    }
    expect(status.cascade.total).toBeGreaterThan(250);
  });

  test('a fault on gamma R5 takes gamma δ below 4.0 and raises instance_divergence{member="gamma"}', async () => {
    const alpha = cluster.instance('alpha').http;
    const before = (await scrapeValue(alpha, 'instance_divergence{member="gamma"}'))!;
    expect(
      (
        await triad(
          'inject-fault',
          '--instance',
          'gamma',
          '--layer',
          'R5',
          '--burden-scale',
          '0.5',
          '--error-rate',
          '0.1',
        )
      ).code,
    ).toBe(0);
    const gamma = cluster.instance('gamma').http;
    await waitFor(
      async () => ((await scrapeValue(gamma, 'amplification_ratio{layer="R5"}')) ?? 9) < 4.0,
      20_000,
      'gamma δ below 4.0',
    );
    expect(await scrapeValue(gamma, 'r5_delta_amplification')).toBeLessThan(4.0);
    expect(await scrapeValue(cluster.instance('beta').http, 'amplification_ratio{layer="R5"}')).toBeGreaterThan(4.0);
    await waitFor(
      async () => ((await scrapeValue(alpha, 'instance_divergence{member="gamma"}')) ?? 0) > before + 0.1,
      10_000,
      'divergence to rise',
    );
    const others = await Promise.all(
      ['alpha', 'beta'].map((m) => scrapeValue(alpha, `instance_divergence{member="${m}"}`)),
    );
    expect((await scrapeValue(alpha, 'instance_divergence{member="gamma"}'))!).toBeGreaterThan(
      Math.max(...others.map((v) => v ?? 0)),
    );
    expect((await triad('inject-fault', '--instance', 'gamma', '--layer', 'R5', '--clear')).code).toBe(0);
  });

  test('/metrics of every node carries every DESIGN §6 metric and passes promtool check metrics', async () => {
    for (const name of ['alpha', 'beta', 'gamma']) {
      const text = await (await fetch(`http://${cluster.instance(name).http}/metrics`)).text();
      for (const metric of designMetrics) {
        // Counters gain _total in the name; the histogram shows as _bucket/_sum/_count: match the family's TYPE line.
        expect(text, `${name}: ${metric}`).toMatch(new RegExp(`^# TYPE ${metric} `, 'm'));
      }
      expect(text, name).not.toMatch(/\bNaN\b/);
      expect(promtoolFindings(text), name).toEqual([]);
    }
    expect(
      await scrapeValue(
        cluster.instance('gamma').http,
        'framework_operations_errors_total{layer="R5",framework="R5_CROSS_INSTANCE_D1",error_type="injected"}',
      ),
    ).toBeGreaterThan(0);
  });

  test('R6 runs on the leader only; asked on another node, the call is forwarded', async () => {
    // The fault above ends in an automatic rollback of R5, and R6 with it, on gamma: R6 must run wherever the leader is.
    const everywhere = await triad('activate-layers', '--layers', 'R5,R6', '--force', '--reason', 'R6 on every node');
    expect(everywhere.code, everywhere.stderr).toBe(0);
    const leaders = await Promise.all(
      ['alpha', 'beta', 'gamma'].map(
        async (n) => [n, await scrapeValue(cluster.instance(n).http, 'triad_leader')] as const,
      ),
    );
    const leader = leaders.find(([, v]) => v === 1)![0];
    const other = ['alpha', 'beta', 'gamma'].find((n) => n !== leader)!;
    const run = await runTriad(['run-r6-orchestration', '--json', '--target', cluster.instance(other).grpc]);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { instance: string }).instance).toBe(leader);
  });

  test('every operation is logged with the DESIGN §6 fields', () => {
    const lines = readFileSync(path.join(cluster.config.dir, 'logs', 'beta.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"framework_execution"'));
    expect(lines.length).toBeGreaterThan(100);
    const entry = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    for (const field of [
      'timestamp',
      'level',
      'service',
      'operation',
      'framework_id',
      'instance',
      'layer',
      'duration_ms',
      'burden_saved_hours',
      'success',
    ]) {
      expect(entry, field).toHaveProperty(field);
    }
    expect(entry).toMatchObject({
      level: 'info',
      service: 'triad',
      instance: 'beta',
      operation: 'framework_execution',
      source: 'synthetic',
    });
  });
});
