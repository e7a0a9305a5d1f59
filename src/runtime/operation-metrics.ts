import type { LayerId } from '../config/index.js';
import type { RuntimeMetrics } from '../metrics/index.js';
import type { OperationRecord } from './operation.js';
import type { FrameworkPlugin } from './plugin.js';
import type { LayerSnapshot } from './runtime.js';
import type { WindowTotals } from './window.js';

/**
 * Counts operations into the runtime's counters. Counters are incremented once per label set of the batch, not once
 * per operation: a 500-operation ingest then costs a handful of label lookups instead of thousands (each one hashes
 * its labels), which is most of what a node adds to the ingest path. The histogram stays per operation.
 */
export function countOperations(metrics: RuntimeMetrics, records: readonly OperationRecord[]): void {
  const counts = new Map<string, { r: OperationRecord; n: number; burdenHours: number }>();
  for (const r of records) {
    const key = `${r.frameworkId}|${r.cohort ?? 'full'}|${r.success ? '' : (r.errorType ?? 'internal')}|${r.source}`;
    const entry = counts.get(key);
    if (entry) {
      entry.n += 1;
      entry.burdenHours += r.burdenSavedHours;
    } else counts.set(key, { r, n: 1, burdenHours: r.burdenSavedHours });
    metrics.duration.observe({ layer: r.layer }, r.durationMs / 1000);
  }
  for (const { r, n, burdenHours } of counts.values()) {
    const labels = { layer: r.layer, framework: r.frameworkId };
    if (r.source === 'ingest') metrics.fires.inc(labels, n);
    metrics.operations.inc({ ...labels, cohort: r.cohort ?? 'full' }, n);
    if (r.success) metrics.successes.inc(labels, n);
    else metrics.errors.inc({ ...labels, error_type: r.errorType ?? 'internal' }, n);
    // Operations carry hours (the plan's unit, on the wire and in operation_history); Prometheus gets seconds.
    if (burdenHours > 0) metrics.burdenSaved.inc(labels, burdenHours * 3_600);
  }
}

/** The operations plan's per-layer gauges (r2_alpha_amplification …) from one snapshot of the window. */
export function setPlanGauges(
  gauges: RuntimeMetrics['layerGauges'],
  snap: readonly LayerSnapshot[],
  view: {
    plugins: readonly FrameworkPlugin[];
    totals: (frameworkId: string) => WindowTotals;
    runs: (plugin: FrameworkPlugin) => boolean;
  },
): void {
  const of = (l: LayerId) => snap.find((s) => s.layer === l) as LayerSnapshot;
  const set = (name: string, value: number | undefined) => gauges[name]?.set(value ?? 0);
  const successes = (id: string) => {
    const t = view.totals(id);
    return t.ops - t.errors;
  };
  const sumOf = (match: (p: FrameworkPlugin) => boolean, value: (id: string) => number) =>
    view.plugins.filter(match).reduce((s, p) => s + value(p.id), 0);
  const running = (l: LayerId) => view.plugins.filter((p) => p.layer === l && view.runs(p)).length;
  const r1 = of('R1');
  set('r1_sovereignty_score', r1.ops > 0 ? 1 - r1.errors / r1.ops : 0);
  set('r1_baseline_burden_seconds', r1.burdenHours * 3_600);
  set('r2_alpha_amplification', of('R2').amplification);
  set('r2_bridges_active', running('R2'));
  set('r3_beta_amplification', of('R3').amplification);
  set(
    'r3_triggers_detected',
    sumOf((p) => p.id.startsWith('R3_TRIGGER'), successes),
  );
  set(
    'r3_frameworks_composed',
    sumOf((p) => p.id.startsWith('R3_AUTO_COMPOSITION'), successes),
  );
  set('r4_gamma_amplification', of('R4').amplification);
  set('r4_meta_frameworks_active', running('R4'));
  set('r4_composition_success_rate', of('R4').ops > 0 ? 1 - of('R4').errors / of('R4').ops : 0);
  set('r5_delta_amplification', of('R5').amplification);
  set('r5_cross_instance_operations', of('R5').ops);
  set('r6_epsilon_amplification', of('R6').amplification);
  set(
    'r6_strategic_orchestrations',
    sumOf(
      (p) => p.layer === 'R6',
      (id) => view.totals(id).ops,
    ),
  );
}
