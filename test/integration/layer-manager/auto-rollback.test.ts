import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { epochsRecorded, runTriad, scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';

const valueOr0 = async (http: string, selector: string) => (await scrapeValue(http, selector)) ?? 0;
import { expectAgreement } from '../../fixtures/layer-assertions.js';

describe('automatic rollback on a demo cluster (compressed durations, injected fault)', () => {
  let cluster: TestCluster;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);

  beforeAll(async () => {
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    await cluster.waitReady();
    await cluster.waitForEpoch();
    const up = await triad('activate-layers', '--layers', 'R1,R2,R3,R4,R5', '--force', '--reason', 'rollback suite');
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('an activation dry run prints its detection budget per trigger', async () => {
    const dry = await triad('activate-layers', '--layers', 'R6', '--dry-run', '--force', '--reason', 'look');
    expect(dry.code).toBe(0);
    // Demo: window 4 s + hold (1 h compresses to the 1 s floor, but a hold is never shorter than the 4 s window it
    // reads) + evaluation every 0.5 s.
    expect(dry.stdout).toContain(
      'detection budget (window + for: + evaluation interval, per rollback trigger):\n' +
        ['error_rate_high', 'amplification_degraded', 'dwcp_error_rate', 'dwcp_latency_p99', 'dwcp_throughput']
          .map((id) => `  R6     8.5s  ${id} (for 4s)\n`)
          .join(''),
    );
  });

  test('a 50 % burden fault on gamma R5 rolls R5 back on gamma only, once, audited with the trigger, and stays down', async () => {
    const versionBefore = (await triad('history', '--json', '--limit', '1')).stdout;
    const before = (JSON.parse(versionBefore) as { versions: { version: number }[] }).versions[0]!.version;
    expect((await triad('inject-fault', '--instance', 'gamma', '--layer', 'R5', '--burden-scale', '0.5')).code).toBe(0);

    // δ on gamma falls to ~2.5 (a 50 % drop against 4.95): amplification_degraded (> 30 % for 1 h → 1 s) fires.
    await waitFor(
      async () =>
        (await cluster.db!.pool.query("SELECT 1 FROM alert_history WHERE trigger_id = 'amplification_degraded'"))
          .rowCount! > 0,
      25_000,
      'the automatic rollback',
    );
    await expectAgreement(cluster, { alpha: 'R1 R2 R3 R4 R5', beta: 'R1 R2 R3 R4 R5', gamma: 'R1 R2 R3 R4' });

    const audit = await cluster.db!.pool.query<{
      actor: string;
      command: string;
      reason: string;
      before_version: string;
      after_version: string;
    }>(
      "SELECT actor, command, reason, before_version, after_version FROM audit_log WHERE actor = 'triad (automatic rollback)'",
    );
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]!.command).toMatch(
      /^triad deactivate-layers --layers R5 --instances gamma --cascade --reason "automatic rollback: trigger amplification_degraded/,
    );
    expect(audit.rows[0]!.before_version).toBe(String(before));
    expect(audit.rows[0]!.reason).toMatch(
      /^automatic rollback: trigger amplification_degraded \(amplification_drop > 0\.3 for 4s; measured 0\.\d+ in epoch /,
    );
    const alerts = await cluster.db!.pool.query<{ alert: string; severity: string; layer: string; instance: string }>(
      'SELECT alert, severity, layer, instance FROM alert_history',
    );
    expect(alerts.rows).toEqual([{ alert: 'RollbackTriggered', severity: 'critical', layer: 'R5', instance: 'gamma' }]);

    const leaders = await Promise.all(
      ['alpha', 'beta', 'gamma'].map((n) =>
        valueOr0(cluster.instance(n).http, 'triad_rollbacks_total{layer="R5",reason="amplification_degraded"}'),
      ),
    );
    expect(leaders.reduce((a, b) => a + b, 0)).toBe(1);

    // The fault goes away; the metric recovers on its own; nothing re-activates R5 by itself. The leader evaluates
    // its triggers on each epoch: four of them (2 s at the demo's 500 ms) outlast any trigger's `for:` (1 s here).
    expect((await triad('inject-fault', '--instance', 'gamma', '--layer', 'R5', '--clear')).code).toBe(0);
    const names = ['alpha', 'beta', 'gamma'];
    const flags = await Promise.all(names.map((n) => valueOr0(cluster.instance(n).http, 'triad_leader')));
    const leader = cluster.instance(names[flags.indexOf(1)]!).http;
    const seen = await epochsRecorded(leader);
    await waitFor(async () => (await epochsRecorded(leader)) >= seen + 4, 15_000, 'four more epochs on the leader');
    await expectAgreement(cluster, { alpha: 'R1 R2 R3 R4 R5', beta: 'R1 R2 R3 R4 R5', gamma: 'R1 R2 R3 R4' });
    expect(
      (
        await cluster.db!.pool.query(
          "SELECT count(*)::int AS n FROM audit_log WHERE actor = 'triad (automatic rollback)'",
        )
      ).rows[0],
    ).toEqual({ n: 1 });
  });
});
