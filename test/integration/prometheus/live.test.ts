import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { demoRuleFiles, TestPrometheus, type ActiveAlert } from '../../fixtures/prometheus.js';
import { promtoolHint, requireCommand } from '../../fixtures/services.js';
import { dashboardQueries, resolveGrafanaVariables } from '../../unit/ops/ops-assets.js';

// A real 3-node demo cluster running the whole cascade on the synthetic pack, scraped by Debian's prometheus every
// second with the demo-compressed rules (for: 15m → 15s, [5m] → [20s]). Epochs every half second.
const clusterYaml = [
  'consensus:\n  demo_interval: 500ms\n  round_timeout: 300ms',
  'synthetic:\n  enabled: true\n  interval: 250ms',
  'runtime:\n  demo_window: 8s',
].join('\n');
const names = ['alpha', 'beta', 'gamma'];

interface RuleFile {
  groups: { name: string; rules: ({ record: string } | { alert: string })[] }[];
}

describe('Prometheus scraping a live cluster with the demo-compressed rules', () => {
  let cluster: TestCluster | undefined;
  let prometheus: TestPrometheus | undefined;
  let demo: ReturnType<typeof demoRuleFiles> | undefined;

  beforeAll(async () => {
    requireCommand('prometheus', promtoolHint);
    demo = demoRuleFiles();
    cluster = await TestCluster.start({ names, extraYaml: clusterYaml, env: { TRIAD_PROFILE: 'demo' } });
    await cluster.waitReady();
    await cluster.waitForEpoch();
    const triad = (...args: string[]) => runTriad([...args, '--config', cluster!.config.clusterFile]);
    // The whole cascade, so every layer's series exist.
    expect(
      (await triad('activate-layers', '--layers', 'R1,R2,R3,R4,R5,R6', '--force', '--reason', 'live rules')).code,
    ).toBe(0);
    // No operation fails before the fault test below: the error rules and panels have data all the same, because
    // every error counter is exported at 0 from each node's start.
    prometheus = await TestPrometheus.start({
      targets: cluster.config.instances.map((i) => ({ instance: i.name, address: i.http })),
      ruleFiles: demo.ruleFiles,
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await cluster?.stop();
    if (demo) rmSync(demo.dir, { recursive: true, force: true });
  });

  const server = () => prometheus!;
  const instancesOf = async (expr: string) =>
    (await server().query(expr)).map((s) => s.metric.instance ?? '(none)').sort();

  // Prometheus applies new targets on a 5 s tick, so the first scrape comes 5–6 s after start.
  test('every node is up under its instance name, not host:port', async () => {
    const up = 'up{job="layer_manager"} == 1';
    await waitFor(async () => (await server().query(up)).length === 3, 20_000, 'three targets up');
    expect(await instancesOf(up)).toEqual(names);
  });

  test('node and consensus metrics arrive labelled alpha/beta/gamma', async () => {
    await waitFor(async () => (await server().query('triad_node_info')).length === 3, 10_000, 'triad_node_info');
    const info = await server().query('triad_node_info');
    expect(info.map((s) => s.metric.instance).sort()).toEqual(names);
    expect(info.every((s) => s.value === 1 && s.metric.cluster === 'test' && s.metric.job === 'layer_manager')).toBe(
      true,
    );
    // No exported_instance: the code must never set an `instance` label of its own (DESIGN §6).
    expect(await server().query('{job="layer_manager", exported_instance!=""}')).toEqual([]);

    await waitFor(
      async () => (await server().query('consensus_converged == 1')).length === 3,
      15_000,
      'consensus_converged == 1 on every node',
    );
    expect(await instancesOf('consensus_converged{topology="K3"}')).toEqual(names);
  });

  test('every rule loaded and evaluates without error', async () => {
    const expected = demo!.ruleFiles.flatMap((file) =>
      (parse(readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((g) =>
        g.rules.map((r) => ('record' in r ? r.record : r.alert)),
      ),
    );
    await waitFor(
      async () => (await server().rules()).every((g) => g.rules.every((r) => r.health !== 'unknown')),
      10_000,
      'every rule evaluated once',
    );
    const rules = (await server().rules()).flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual([...expected].sort());
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`)).toEqual([]);
  });

  test('every recording rule returns data from the live cluster', async () => {
    const records = demo!.ruleFiles.flatMap((file) =>
      (parse(readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((g) =>
        g.rules.flatMap((r) => ('record' in r ? [r.record] : [])),
      ),
    );
    const unique = [...new Set(records)];
    let empty: string[] = unique;
    await waitFor(
      async () => {
        const results = await Promise.all(unique.map(async (r) => [r, (await server().query(r)).length] as const));
        empty = results.filter(([, n]) => n === 0).map(([r]) => r);
        return empty.length === 0;
      },
      45_000,
      `every recording rule to have data (still empty: ${empty.join(', ')})`,
    ).catch(() => undefined);
    expect(empty).toEqual([]);
  });

  test('every dashboard panel query returns data on the real server', async () => {
    const failures: string[] = [];
    for (const q of dashboardQueries()) {
      const where = `${q.dashboard} › ${q.panel} › ${q.refId}`;
      await server()
        .query(resolveGrafanaVariables(q.expr))
        .then((series) => series.length === 0 && failures.push(`${where}: no data for ${q.expr}`))
        .catch((err: unknown) => failures.push(`${where}: ${String(err)}`));
    }
    expect(failures).toEqual([]);
  });

  test('a fault on gamma R5 takes AmplificationBelowTarget for R5 from pending to firing, for gamma only', async () => {
    // δ × 0.75 ≈ 3.7: below the 4.00 alert threshold, yet a 25 % drop, short of the 30 % automatic rollback.
    const fault = await runTriad([
      'inject-fault',
      '--instance',
      'gamma',
      '--layer',
      'R5',
      '--burden-scale',
      '0.75',
      '--config',
      cluster!.config.clusterFile,
    ]);
    expect(fault.code).toBe(0);
    const seen: ActiveAlert['state'][] = [];
    let firing: ActiveAlert | undefined;
    await waitFor(
      async () => {
        const r5 = (await server().alerts()).filter(
          (a) => a.labels.alertname === 'AmplificationBelowTarget' && a.labels.layer === 'R5',
        );
        expect(r5.map((a) => a.labels.instance)).toEqual(r5.length === 0 ? [] : ['gamma']);
        const state = r5[0]?.state;
        if (state !== undefined && seen.at(-1) !== state) seen.push(state);
        firing = r5.find((a) => a.state === 'firing');
        return firing !== undefined;
      },
      45_000,
      'AmplificationBelowTarget R5 firing for gamma',
    );
    expect(seen).toEqual(['pending', 'firing']);
    expect(firing).toMatchObject({ labels: { severity: 'warning', instance: 'gamma', layer: 'R5' } });
    expect(Number(firing!.value)).toBeLessThan(4.0);
  });

  test('killing gamma takes LayerManagerDown from pending to firing for gamma only', async () => {
    const seen: ActiveAlert['state'][] = [];
    await cluster!.stopNode('gamma', 'SIGKILL');
    let firing: ActiveAlert | undefined;
    await waitFor(
      async () => {
        const down = (await server().alerts()).filter((a) => a.labels.alertname === 'LayerManagerDown');
        expect(down.map((a) => a.labels.instance)).toEqual(down.length === 0 ? [] : ['gamma']);
        const state = down[0]?.state;
        if (state !== undefined && seen.at(-1) !== state) seen.push(state);
        firing = down.find((a) => a.state === 'firing');
        return firing !== undefined;
      },
      20_000,
      'LayerManagerDown firing for gamma',
    );
    expect(seen).toEqual(['pending', 'firing']);
    expect(firing).toMatchObject({
      labels: { alertname: 'LayerManagerDown', instance: 'gamma', job: 'layer_manager', severity: 'critical' },
      annotations: { summary: 'triad node gamma is down', runbook_url: 'docs/runbooks/layer-manager-down.md' },
    });
    expect(await server().query('up{job="layer_manager", instance="gamma"}')).toMatchObject([{ value: 0 }]);
  });
});
