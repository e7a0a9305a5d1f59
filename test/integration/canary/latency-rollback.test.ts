import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { expectAgreement } from '../../fixtures/layer-assertions.js';

// A real three-node demo cluster: production durations compressed by the demo profile (5 m → the 1 s floor, then
// never shorter than the 6 s window), the synthetic pack at 10 operations a second per framework so a 6 s window holds
// ~120 R3 operations per instance (a p99 is judged on ≥ 100).
describe('latency_p99 trigger on a real cluster (injected latency)', () => {
  let cluster: TestCluster;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);

  beforeAll(async () => {
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 100ms\nruntime:\n  demo_window: 6s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    await cluster.waitReady();
    await cluster.waitForEpoch();
    const up = await triad('activate-layers', '--layers', 'R1,R2,R3', '--force', '--reason', 'latency trigger suite');
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('+100 ms on alpha R3 (p99 ~5× its baseline) rolls R3 back on alpha only, audited; time to every node applied', async () => {
    // The baseline of a layer new on an instance is its first whole window after the activation: let it pass.
    const activated = Number(
      (
        await cluster.db!.pool.query<{ ms: string }>(
          'SELECT extract(epoch FROM max(created_at)) * 1000 AS ms FROM desired_state_versions',
        )
      ).rows[0]!.ms,
    );
    await waitFor(() => Date.now() > activated + 6_000 + 3_000, 20_000, 'the baseline window');
    const fault = await triad('inject-fault', '--instance', 'alpha', '--layer', 'R3', '--latency', '100ms');
    expect(fault.code, fault.stderr).toBe(0);

    await waitFor(
      async () =>
        (await cluster.db!.pool.query("SELECT 1 FROM alert_history WHERE trigger_id = 'dwcp_latency_p99'")).rowCount! >
        0,
      60_000,
      'the latency rollback',
    );
    await expectAgreement(cluster, { alpha: 'R1 R2', beta: 'R1 R2 R3', gamma: 'R1 R2 R3' });
    const alert = (
      await cluster.db!.pool.query<{
        layer: string;
        instance: string;
        value: number;
        details: Record<string, unknown>;
      }>("SELECT layer, instance, value, details FROM alert_history WHERE trigger_id = 'dwcp_latency_p99'")
    ).rows;
    expect(alert.map((a) => `${a.layer}:${a.instance}`)).toEqual(['R3:alpha']);
    expect(alert[0]!.value).toBeGreaterThan(2);
    const audit = await cluster.db!.pool.query<{ command: string; after_version: string }>(
      "SELECT command, after_version FROM audit_log WHERE actor = 'triad (automatic rollback)'",
    );
    expect(audit.rows.map((r) => r.command)).toEqual([
      expect.stringMatching(
        /^triad deactivate-layers --layers R3 --instances alpha --cascade --reason "automatic rollback: trigger dwcp_latency_p99 \(latency_p99 > 2 × baseline for 6s; measured \d+\.\d+ in epoch /,
      ),
    ]);

    // The DWCP promise: from the condition holding past its `for:` to every node having applied the rollback.
    const details = alert[0]!.details as { evaluated_at: string; held_ms: number; hold_ms: number };
    const conditionPastFor = Date.parse(details.evaluated_at) - details.held_ms + details.hold_ms;
    const version = Number(audit.rows[0]!.after_version);
    await waitFor(
      async () =>
        (await cluster.db!.pool.query('SELECT 1 FROM instance_state WHERE applied_version >= $1', [version]))
          .rowCount === 3,
      10_000,
      'every node recording the rollback applied',
    );
    const applied = (
      await cluster.db!.pool.query<{ ms: string }>(
        'SELECT extract(epoch FROM max(applied_at)) * 1000 AS ms FROM instance_state',
      )
    ).rows[0]!.ms;
    const rollbackMs = Number(applied) - conditionPastFor;
    console.log(`BENCH latency rollback: ${rollbackMs.toFixed(0)} ms from condition past for: to all 3 nodes applied`);
    expect(rollbackMs).toBeGreaterThanOrEqual(0);
    expect(rollbackMs).toBeLessThan(120_000);

    expect((await triad('inject-fault', '--instance', 'alpha', '--layer', 'R3', '--clear')).code).toBe(0);
  });
});
