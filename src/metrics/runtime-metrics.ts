import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FrameworkConfig } from '../config/index.js';
import { cohorts, errorTypes } from '../runtime/index.js';

/** The framework runtime's metrics (docs/metrics.md "Framework runtime"); this node's own view. */
export interface RuntimeMetrics {
  fires: Counter<'layer' | 'framework'>;
  operations: Counter<'layer' | 'framework' | 'cohort'>;
  successes: Counter<'layer' | 'framework'>;
  errors: Counter<'layer' | 'framework' | 'error_type'>;
  duration: Histogram<'layer'>;
  queueDepth: Gauge;
  /** Seconds of manual burden saved (operations carry hours: convert at `inc`). */
  burdenSaved: Counter<'layer' | 'framework'>;
  amplification: Gauge<'layer'>;
  cascade: Gauge;
  frameworkActive: Gauge<'layer' | 'framework'>;
  /** The operations plan's per-layer gauges, by metric name (r2_alpha_amplification …). */
  layerGauges: Record<string, Gauge>;
}

const planGauges: Record<string, string> = {
  r1_sovereignty_score: 'Share of R1 operations that succeeded in the window (0–1).',
  r1_baseline_burden_seconds: 'R1 burden saved in the window, seconds.',
  r2_alpha_amplification: 'α: R2 amplification (same as amplification_ratio{layer="R2"}).',
  r2_bridges_active: 'R2 frameworks running on this node.',
  r3_beta_amplification: 'β: R3 amplification (same as amplification_ratio{layer="R3"}).',
  r3_triggers_detected: 'R3 trigger-detection operations that succeeded in the window.',
  r3_frameworks_composed: 'R3 auto-composition operations that succeeded in the window.',
  r4_gamma_amplification: 'γ: R4 amplification (same as amplification_ratio{layer="R4"}).',
  r4_meta_frameworks_active: 'R4 frameworks running on this node.',
  r4_composition_success_rate: 'Success share of R4 operations in the window (0–1).',
  r5_delta_amplification: 'δ: R5 amplification (same as amplification_ratio{layer="R5"}).',
  r5_cross_instance_operations: 'R5 operations in the window.',
  r6_epsilon_amplification: 'ε: R6 amplification (same as amplification_ratio{layer="R6"}).',
  r6_strategic_orchestrations: 'R6 orchestration runs in the window.',
};

/** `frameworks`: every framework of layers.yaml; each of its counter series exists, at 0, from the start. */
export function createRuntimeMetrics(registry: Registry, frameworks: readonly FrameworkConfig[]): RuntimeMetrics {
  const registers = [registry];
  const metrics: RuntimeMetrics = {
    fires: new Counter({
      name: 'framework_fires_total',
      help: 'Framework executions started (scheduled runs and ingested operations).',
      labelNames: ['layer', 'framework'],
      registers,
    }),
    operations: new Counter({
      name: 'framework_operations_total',
      help: 'Framework operations finished, success or not; cohort="partial" while the layer runs for fewer than 100 % of keys.',
      labelNames: ['layer', 'framework', 'cohort'],
      registers,
    }),
    successes: new Counter({
      name: 'framework_operations_success_total',
      help: 'Framework operations that succeeded.',
      labelNames: ['layer', 'framework'],
      registers,
    }),
    errors: new Counter({
      name: 'framework_operations_errors_total',
      help: 'Framework operations that failed, by kind.',
      labelNames: ['layer', 'framework', 'error_type'],
      registers,
    }),
    duration: new Histogram({
      name: 'operation_duration_seconds',
      help: 'Wall time of one framework operation.',
      labelNames: ['layer'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'framework_operation_queue_depth',
      help: 'Operations accepted and waiting to be persisted.',
      registers,
    }),
    burdenSaved: new Counter({
      name: 'burden_saved_seconds_total',
      help: "Seconds of manual burden saved by the framework's operations (hours per week: recording rules).",
      labelNames: ['layer', 'framework'],
      registers,
    }),
    amplification: new Gauge({
      name: 'amplification_ratio',
      help: 'Burden rate of Rn ÷ burden rate of R(n−1) over the window (rollout-normalised); R1 is 1; absent without data.',
      labelNames: ['layer'],
      registers,
    }),
    cascade: new Gauge({
      name: 'cascade_amplification',
      help: 'Product of amplification_ratio over the layers active on this node (1 with none).',
      registers,
    }),
    frameworkActive: new Gauge({
      name: 'framework_active',
      help: '1 while the framework runs on this node, else 0.',
      labelNames: ['layer', 'framework'],
      registers,
    }),
    layerGauges: Object.fromEntries(
      Object.entries(planGauges).map(([name, help]) => [name, new Gauge({ name, help, registers })]),
    ),
  };
  // Every series of a closed label set starts at 0 (Prometheus practice): rate(), the error-rate alert and the
  // panels then read 0 before the first operation or the first error, rather than nothing.
  for (const { layer, id: framework } of frameworks) {
    const labels = { layer, framework };
    metrics.fires.inc(labels, 0);
    for (const cohort of cohorts) metrics.operations.inc({ ...labels, cohort }, 0);
    metrics.successes.inc(labels, 0);
    for (const error_type of errorTypes) metrics.errors.inc({ ...labels, error_type }, 0);
    metrics.burdenSaved.inc(labels, 0);
  }
  return metrics;
}
