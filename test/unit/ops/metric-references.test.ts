import { describe, expect, test } from 'vitest';
import {
  allRules,
  dashboardQueries,
  isKnownMetric,
  metricContract,
  metricNamesIn,
  parseMetricContract,
  recordingRuleNames,
} from './ops-assets.js';

describe('metricNamesIn', () => {
  test.each([
    ['up{job="layer_manager"} == 0', ['up']],
    ['sum by (instance, layer) (rate(burden_saved_seconds_total[1h])) * 168', ['burden_saved_seconds_total']],
    [
      'a:b:rate5m{layer="R2"} / label_replace(a:b:rate5m{layer="R1"} > 0, "layer", "R2", "layer", "R1")',
      ['a:b:rate5m'],
    ],
    ['exp(sum by (instance) (ln(x and on (instance, layer) layer_enabled == 1)))', ['layer_enabled', 'x']],
    [
      'histogram_quantile(0.95, sum by (instance, le) (rate(operation_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
      ['operation_duration_seconds_bucket'],
    ],
    ['consensus_error > 1e-6 unless bool ignoring(topology) group_left(peer) y offset 5m', ['consensus_error', 'y']],
    ['max(rate(ratex_total[1m]))', ['ratex_total']],
  ])('%s', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});

describe('docs/metrics.md as a contract', () => {
  test('reads names from the first column only, histograms with their series, prefixes for defaults', () => {
    const contract = parseMetricContract(
      [
        '| metric | type | labels | meaning |',
        '| --- | --- | --- | --- |',
        '| `a_total` | counter | layer | counts `not_a_metric` things |',
        '| `d_seconds` | histogram | layer | wall time |',
        '| `x`, `y` | gauge | — | two |',
        '| `process_*`, `nodejs_*` | — | — | defaults |',
      ].join('\n'),
    );
    expect([...contract.names].sort()).toEqual([
      'a_total',
      'd_seconds',
      'd_seconds_bucket',
      'd_seconds_count',
      'd_seconds_sum',
      'x',
      'y',
    ]);
    expect(contract.prefixes).toEqual(['process_', 'nodejs_']);
  });

  test('the shipped contract has the metrics the ops assets are built on', () => {
    const { names, prefixes } = metricContract();
    for (const name of ['burden_saved_seconds_total', 'amplification_ratio', 'layer_enabled', 'consensus_error']) {
      expect(names).toContain(name);
    }
    expect(prefixes).toEqual(expect.arrayContaining(['process_', 'nodejs_']));
  });

  test('exported names are in base units: hours exist only as recording rules', () => {
    expect([...metricContract().names].filter((name) => name.includes('hours'))).toEqual([]);
    expect(recordingRuleNames()).toContain('triad:burden_saved_hours_per_week:sum');
  });
});

describe('every expression references only metrics of docs/metrics.md, recording rules or up', () => {
  const contract = metricContract();
  const recorded = recordingRuleNames();

  test('a metric of the operations plan that the contract lacks is reported', () => {
    expect(isKnownMetric('r2_burden_reduction_hours', contract, recorded)).toBe(false);
    expect(isKnownMetric('burden_saved_hours_total', contract, recorded)).toBe(false);
    expect(isKnownMetric('nodejs_eventloop_lag_p99_seconds', contract, recorded)).toBe(true);
    expect(isKnownMetric('instance_layer:amplification_ratio:rate5m', contract, recorded)).toBe(true);
  });

  test('dashboard panels (dashboard › panel › query: metric)', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(30);
    const unknown = queries.flatMap((q) =>
      metricNamesIn(q.expr)
        .filter((name) => !isKnownMetric(name, contract, recorded))
        .map((name) => `${q.dashboard} › ${q.panel} › ${q.refId}: ${name}`),
    );
    expect(unknown).toEqual([]);
    const empty = queries.filter((q) => metricNamesIn(q.expr).length === 0);
    expect(empty.map((q) => `${q.dashboard} › ${q.panel} › ${q.refId}`)).toEqual([]);
  });

  test('recording and alerting rules (file › rule: metric)', () => {
    const rules = allRules();
    expect(rules.length).toBeGreaterThan(20);
    const unknown = rules.flatMap((r) =>
      metricNamesIn(r.expr)
        .filter((name) => !isKnownMetric(name, contract, recorded))
        .map((name) => `${r.file} › ${r.record ?? r.alert ?? '?'}: ${name}`),
    );
    expect(unknown).toEqual([]);
    expect(rules.filter((r) => metricNamesIn(r.expr).length === 0).map((r) => r.record ?? r.alert)).toEqual([]);
  });
});

/** `name{a="…", b=~"…"}` selectors in an expression, with the label names they match on. */
function selectors(expr: string): { name: string; labels: string[] }[] {
  return [...expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)].map(([, name, matchers]) => ({
    name: name!,
    labels: [...matchers!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!),
  }));
}

describe('selectors on recording rules use only the labels the rule keeps', () => {
  // level "instance_layer" keeps instance and layer; "job" keeps job (Prometheus naming: the level is the labels).
  const kept = (rule: string) => rule.split(':')[0]!.split('_');

  test('the level of a rule name lists its labels', () => {
    expect(kept('instance_layer:burden_saved_seconds:rate5m')).toEqual(['instance', 'layer']);
    expect(selectors('a:b:c{instance=~"$instance", layer="R2"} / up{job="x"}')).toEqual([
      { name: 'a:b:c', labels: ['instance', 'layer'] },
      { name: 'up', labels: ['job'] },
    ]);
  });

  test('dashboard panels and rules', () => {
    const recorded = recordingRuleNames();
    const exprs = [
      ...dashboardQueries().map((q) => ({ where: `${q.dashboard} › ${q.panel} › ${q.refId}`, expr: q.expr })),
      ...allRules().map((r) => ({ where: `${r.file} › ${r.record ?? r.alert ?? '?'}`, expr: r.expr })),
    ];
    const wrong = exprs.flatMap(({ where, expr }) =>
      selectors(expr)
        .filter((s) => recorded.has(s.name))
        .flatMap((s) =>
          s.labels.filter((l) => !kept(s.name).includes(l)).map((l) => `${where}: ${s.name} has no ${l}`),
        ),
    );
    expect(wrong).toEqual([]);
  });
});
