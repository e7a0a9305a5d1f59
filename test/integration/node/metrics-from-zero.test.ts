import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { recordOperations } from '../../../src/connections/index.js';
import { createServiceClient } from '../../fixtures/grpc.js';
import { errorTypes } from '../../../src/runtime/index.js';
import { repoRoot, scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { promtoolFindings } from '../../fixtures/promtool.js';

// A fresh three-node cluster with no layer active and the synthetic pack off: no operation runs unless this test
// ingests one, so whatever /metrics shows before that is what a node exports from its start.
const layers = parseLayersConfig(readFileSync(path.join(repoRoot, 'config/layers.yaml'), 'utf8'), 'layers.yaml');
const frameworks = layers.layers.flatMap((l) => l.frameworks);
const names = ['alpha', 'beta', 'gamma'];

/** Every sample line of the exposition: `name{labels} value`, by `name{labels}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The series of one family, `{labels}` → value. */
function family(all: Map<string, number>, name: string): Map<string, number> {
  return new Map([...all].filter(([key]) => key.startsWith(`${name}{`)).map(([key, v]) => [key.slice(name.length), v]));
}

describe('a fresh node exports every counter of its closed label sets at 0', () => {
  let cluster: TestCluster;
  const metricsOf = async (name: string) => (await fetch(`http://${cluster.instance(name).http}/metrics`)).text();

  beforeAll(async () => {
    cluster = await TestCluster.start({ names });
    await cluster.waitReady();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('framework_operations_errors_total is 0 for every framework × error type of layers.yaml, on every node', async () => {
    expect(frameworks).toHaveLength(11);
    for (const name of names) {
      const errors = family(samples(await metricsOf(name)), 'framework_operations_errors_total');
      const expected = frameworks.flatMap((f) =>
        errorTypes.map((e) => `{layer="${f.layer}",framework="${f.id}",error_type="${e}"}`),
      );
      expect([...errors.keys()].sort(), name).toEqual(expected.sort());
      expect(new Set(errors.values()), name).toEqual(new Set([0]));
    }
  });

  test('the other framework counters are 0 per framework (and per cohort), burden in seconds', async () => {
    const all = samples(await metricsOf('beta'));
    const perFramework = frameworks.map((f) => `{layer="${f.layer}",framework="${f.id}"}`).sort();
    for (const name of ['framework_fires_total', 'framework_operations_success_total', 'burden_saved_seconds_total']) {
      expect([...family(all, name).keys()].sort(), name).toEqual(perFramework);
      expect(new Set(family(all, name).values()), name).toEqual(new Set([0]));
    }
    const operations = family(all, 'framework_operations_total');
    expect([...operations.keys()].sort()).toEqual(
      frameworks
        .flatMap((f) => ['full', 'partial'].map((c) => `{layer="${f.layer}",framework="${f.id}",cohort="${c}"}`))
        .sort(),
    );
    expect(new Set(operations.values())).toEqual(new Set([0]));
  });

  test('triad_rollbacks_total is 0 per layer for "manual" and for every trigger of layers.yaml covering it', async () => {
    const rollbacks = family(samples(await metricsOf('gamma')), 'triad_rollbacks_total');
    const expected = layers.layers.flatMap(({ id }) => [
      `{layer="${id}",reason="manual"}`,
      ...layers.rollbackTriggers
        .filter((t) => t.layer === id || t.layer === '*')
        .map((t) => `{layer="${id}",reason="${t.id}"}`),
    ]);
    expect([...rollbacks.keys()].sort()).toEqual(expected.sort());
    expect(new Set(rollbacks.values())).toEqual(new Set([0]));
  });

  test('the consensus counters exist for the cluster topology and both epoch results', async () => {
    const all = samples(await metricsOf('alpha'));
    expect([...family(all, 'consensus_rounds_total').keys()]).toEqual(['{topology="K3"}']);
    expect([...family(all, 'consensus_epochs_total').keys()].sort()).toEqual([
      '{topology="K3",result="converged"}',
      '{topology="K3",result="diverged"}',
    ]);
  });

  test('promtool check metrics reports nothing on any node, and no family is named in hours', async () => {
    for (const name of names) {
      const text = await metricsOf(name);
      expect(promtoolFindings(text), name).toEqual([]);
      expect(text, name).not.toMatch(/^# TYPE \w*hours/m);
      expect(text, name).toMatch(/^# TYPE r1_baseline_burden_seconds gauge$/m);
    }
  });

  test('an ingested operation moves its own series (burden hours → seconds) and adds none', async () => {
    const beta = cluster.instance('beta');
    const before = samples(await metricsOf('beta'));
    const framework = 'R2_CONSENT_AUTO_RESOLVER';
    const op = (success: boolean) => ({
      operation_id: randomUUID(),
      framework_id: framework,
      instance: 'beta',
      started_at_ms: Date.now() - 1_000,
      duration_ms: 40,
      burden_saved_hours: success ? 0.5 : 0,
      success,
      ...(success ? {} : { error_type: 'dependency' }),
    });
    expect(
      (await recordOperations(createServiceClient('Ingest', beta.grpc, 'ingest'), [op(true), op(false)])).accepted,
    ).toBe(2);
    const labels = `layer="R2",framework="${framework}"`;
    await waitFor(
      async () => (await scrapeValue(beta.http, `framework_operations_total{${labels},cohort="full"}`)) === 2,
      10_000,
      'both operations counted on beta',
    );
    const after = samples(await metricsOf('beta'));
    const counters = [...after.keys()].filter((k) => /^(framework_|burden_saved|triad_rollbacks)\w*_total\{/.test(k));
    expect(counters.filter((k) => !before.has(k))).toEqual([]);
    expect(after.get(`burden_saved_seconds_total{${labels}}`)).toBe(1_800);
    expect(after.get(`framework_operations_errors_total{${labels},error_type="dependency"}`)).toBe(1);
    expect(after.get(`framework_operations_errors_total{${labels},error_type="timeout"}`)).toBe(0);
    expect(after.get(`framework_operations_success_total{${labels}}`)).toBe(1);
    expect(promtoolFindings(await metricsOf('beta'))).toEqual([]);
  });
});
