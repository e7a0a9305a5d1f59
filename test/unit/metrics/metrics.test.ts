import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { createMetrics } from '../../../src/metrics/index.js';
import { errorTypes } from '../../../src/runtime/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const frameworks = layers.layers.flatMap((l) => l.frameworks);

/** Each series of a family as `{a="x",b="y"} value`, sorted: what a scrape of a node that has done nothing shows. */
async function seriesOf(registry: Registry, name: string): Promise<string[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  const { values } = await metric.get();
  return values
    .map((v) => {
      const labels = Object.entries(v.labels)
        .map(([k, value]) => `${k}="${String(value)}"`)
        .join(',');
      return `{${labels}} ${v.value}`;
    })
    .sort();
}

describe('a node that has done nothing yet', () => {
  const registry = new Registry();
  createMetrics(registry, { layers, topology: 'K3' });

  test('exports framework_operations_errors_total at 0 for every framework × error type of layers.yaml', async () => {
    expect(frameworks).toHaveLength(11);
    expect(await seriesOf(registry, 'framework_operations_errors_total')).toEqual(
      frameworks
        .flatMap((f) => errorTypes.map((e) => `{layer="${f.layer}",framework="${f.id}",error_type="${e}"} 0`))
        .sort(),
    );
  });

  test.each(['framework_fires_total', 'framework_operations_success_total', 'burden_saved_seconds_total'])(
    '%s is 0 for every framework',
    async (name) => {
      expect(await seriesOf(registry, name)).toEqual(
        frameworks.map((f) => `{layer="${f.layer}",framework="${f.id}"} 0`).sort(),
      );
    },
  );

  test('framework_operations_total is 0 for every framework in both cohorts', async () => {
    expect(await seriesOf(registry, 'framework_operations_total')).toEqual(
      frameworks
        .flatMap((f) => ['full', 'partial'].map((c) => `{layer="${f.layer}",framework="${f.id}",cohort="${c}"} 0`))
        .sort(),
    );
  });

  test('triad_rollbacks_total is 0 per layer for "manual" and each trigger that covers the layer', async () => {
    const series = await seriesOf(registry, 'triad_rollbacks_total');
    const reasonsOf = (layer: string) =>
      series.filter((s) => s.includes(`layer="${layer}"`)).map((s) => /reason="([^"]+)"/.exec(s)![1]);
    // Five triggers cover every layer ('*'); the other two name one layer each.
    const everyLayer = ['amplification_degraded', 'dwcp_error_rate', 'dwcp_latency_p99', 'dwcp_throughput'];
    expect(reasonsOf('R2')).toEqual([...everyLayer, 'error_rate_high', 'manual']);
    expect(reasonsOf('R3')).toEqual([...everyLayer, 'error_rate_high', 'manual', 'r3_beta_collapse']);
    expect(reasonsOf('R5')).toEqual([...everyLayer, 'error_rate_high', 'manual', 'r5_consensus_divergence']);
    expect(series).toHaveLength(6 * 6 + 2);
    expect(series.every((s) => s.endsWith('} 0'))).toBe(true);
  });

  test('the consensus counters are 0 under the cluster topology, for both epoch results', async () => {
    expect(await seriesOf(registry, 'consensus_rounds_total')).toEqual(['{topology="K3"} 0']);
    expect(await seriesOf(registry, 'consensus_epochs_total')).toEqual([
      '{topology="K3",result="converged"} 0',
      '{topology="K3",result="diverged"} 0',
    ]);
  });

  test('gauges that mean "no data" by their absence stay absent', async () => {
    expect(await seriesOf(registry, 'amplification_ratio')).toEqual([]);
    expect(await seriesOf(registry, 'consensus_error')).toEqual([]);
  });

  test('no family is named in hours: burden is in seconds', async () => {
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.filter((n) => n.includes('hours'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['burden_saved_seconds_total', 'r1_baseline_burden_seconds']));
  });
});

test('the label sets follow the configuration, not a fixed list', async () => {
  const registry = new Registry();
  const one = layers.layers.filter((l) => l.id === 'R1');
  createMetrics(registry, {
    layers: { ...layers, layers: one, rollbackTriggers: [] },
    topology: 'C5',
  });
  expect(await seriesOf(registry, 'framework_fires_total')).toEqual([
    '{layer="R1",framework="R1_BASELINE_BURDEN_TRACKING"} 0',
    '{layer="R1",framework="R1_SOVEREIGNTY_MEASUREMENT"} 0',
  ]);
  expect(await seriesOf(registry, 'triad_rollbacks_total')).toEqual(['{layer="R1",reason="manual"} 0']);
  expect(await seriesOf(registry, 'consensus_rounds_total')).toEqual(['{topology="C5"} 0']);
});
