import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { dashboards, panelsOf, readRepoFile, type Dashboard, type Variable } from './ops-assets.js';

const expectedUids = ['triad-cascade-overview', 'triad-layer-details', 'triad-system-health'];
const all = dashboards();
const byUid = new Map(all.map(({ dashboard }) => [dashboard.uid, dashboard]));

interface DatasourceProvisioning {
  apiVersion: number;
  datasources: { name: string; uid: string; type: string; url: string; isDefault?: boolean }[];
}

interface DashboardProvisioning {
  apiVersion: number;
  providers: { name: string; type: string; options: { path: string } }[];
}

const variable = (d: Dashboard, name: string): Variable | undefined => d.templating.list.find((v) => v.name === name);
const queryOf = (v: Variable | undefined) => (typeof v?.query === 'string' ? v.query : v?.query?.query);

describe('grafana/dashboards', () => {
  test('three dashboards with fixed uids and no numeric id', () => {
    expect(all.map(({ dashboard }) => dashboard.uid).sort()).toEqual(expectedUids);
    for (const { file, dashboard } of all) {
      expect(dashboard, file).not.toHaveProperty('id');
      expect(dashboard.schemaVersion, file).toBeGreaterThanOrEqual(39);
      expect(dashboard.title, file).toMatch(/^triad \/ /);
    }
  });

  describe.each(expectedUids)('%s', (uid) => {
    const dashboard = byUid.get(uid)!;
    const panels = panelsOf(dashboard);

    test('a prometheus datasource variable defaulting to the provisioned datasource', () => {
      const ds = variable(dashboard, 'datasource');
      expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus', current: { value: 'triad-prometheus' } });
    });

    test.each([
      ['instance', 'label_values(layer_enabled, instance)'],
      ['layer', 'label_values(amplification_ratio, layer)'],
    ])('a multi-value %s variable with All, from %s', (name, query) => {
      const v = variable(dashboard, name);
      expect(v).toMatchObject({ type: 'query', multi: true, includeAll: true });
      expect(queryOf(v)).toBe(query);
      expect(v?.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    });

    test('unique panel ids', () => {
      const ids = panels.map((p) => p.id);
      expect(ids.every((id) => Number.isInteger(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });

    test('every panel and every target uses the datasource variable', () => {
      const missing = panels.flatMap((p) => [
        ...(p.datasource?.uid === '${datasource}' ? [] : [`panel ${p.title}`]),
        ...(p.targets ?? [])
          .filter((t) => t.datasource?.uid !== '${datasource}' || t.datasource.type !== 'prometheus')
          .map((t) => `${p.title} › ${t.refId}`),
      ]);
      expect(missing).toEqual([]);
    });

    test('every non-row panel has a query, unique refIds, and fits the 24-column grid', () => {
      for (const p of panels) {
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
        if (p.type === 'row') continue;
        const refIds = (p.targets ?? []).map((t) => t.refId);
        expect(refIds.length, p.title).toBeGreaterThan(0);
        expect(new Set(refIds).size, p.title).toBe(refIds.length);
        for (const t of p.targets ?? []) expect(t.expr, `${p.title} › ${t.refId}`).toMatch(/\S/);
      }
    });

    test('panels that filter by node use $instance', () => {
      const unfiltered = panels.flatMap((p) =>
        (p.targets ?? [])
          .filter((t) => /\binstance=~/.test(t.expr ?? '') && !(t.expr ?? '').includes('instance=~"$instance"'))
          .map((t) => `${p.title} › ${t.refId}`),
      );
      expect(unfiltered).toEqual([]);
    });
  });

  test('Cascade Overview has the summary cards, the amplification chart and the consensus table', () => {
    const titles = panelsOf(byUid.get('triad-cascade-overview')!).map((p) => `${p.type}:${p.title}`);
    expect(titles).toEqual(
      expect.arrayContaining([
        'stat:Total cascade',
        'stat:Burden saved per week',
        'stat:Consensus error',
        'stat:System health',
        'timeseries:Amplification by layer over time',
        'table:Per-instance consensus',
      ]),
    );
  });

  test('Layer Details repeats one row per selected layer', () => {
    const rows = panelsOf(byUid.get('triad-layer-details')!).filter((p) => p.type === 'row');
    expect(rows.map((r) => r.repeat)).toEqual(['layer']);
  });

  test('System Health covers up, CPU, memory, queue, heartbeats, convergence and leader', () => {
    const exprs = panelsOf(byUid.get('triad-system-health')!)
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.expr ?? '')
      .join('\n');
    for (const metric of [
      'up{',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'framework_operation_queue_depth',
      'peer_heartbeat_age_seconds',
      'consensus_converged',
      'triad_leader',
    ]) {
      expect(exprs).toContain(metric);
    }
  });
});

describe('grafana/provisioning', () => {
  test('the datasource carries the uid the dashboards default to and points at a local Prometheus', () => {
    const file = parse(readRepoFile('grafana/provisioning/datasources/triad.yml')) as DatasourceProvisioning;
    expect(file.apiVersion).toBe(1);
    expect(file.datasources).toEqual([
      expect.objectContaining({ uid: 'triad-prometheus', type: 'prometheus', url: 'http://127.0.0.1:9090' }),
    ]);
  });

  test('a file provider loads the dashboards folder', () => {
    const file = parse(readRepoFile('grafana/provisioning/dashboards/triad.yml')) as DashboardProvisioning;
    expect(file.apiVersion).toBe(1);
    expect(file.providers).toHaveLength(1);
    expect(file.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards/triad' } });
  });
});
