import { formatDurationMs, type LayerId, type LayersConfig, type Timing } from '../config/index.js';
import { instanceLayerFigures, type EpochOutcome } from '../consensus/index.js';
import { newTraceId, type Clock, type Logger } from '../shared/index.js';
import { alertHistoryStore, type StoragePool } from '../storage/index.js';
import { isActive, type DesiredState } from './desired-state.js';
import type { LayerManager } from './service.js';
import type { PerformanceReader } from './performance.js';
import { TriggerEvaluator, type LayerPerformance, type TriggerFiring } from './triggers.js';

export interface AutoRollbackDeps {
  layers: LayersConfig;
  timing: Pick<Timing, 'holdMs' | 'minSamples'>;
  manager: LayerManager;
  pool: StoragePool;
  clock: Clock;
  log: Logger;
  members: readonly string[];
  desired: () => DesiredState;
  /** Latency and throughput per instance and layer; without it the latency_p99 and throughput triggers never hold. */
  performance?: PerformanceReader;
}

/** Who the audit log names for a rollback no operator typed. */
const actor = 'triad (automatic rollback)';

/**
 * The leader's automatic rollback (issue: "When one holds for its duration, the layer is deactivated on the
 * affected instances through the same audited path as an operator's command"). Each epoch outcome is evaluated
 * against the triggers of layers.yaml from the per-instance table the epoch agreed on; a firing becomes a
 * `deactivate-layers --cascade` through the layer manager (gates do not apply to deactivations), an alert_history
 * row, a warning log line, and triad_rollbacks_total{layer, reason=<trigger id>}.
 */
export function createAutoRollback(deps: AutoRollbackDeps) {
  const { log, clock, timing } = deps;
  // The gates' bar for "enough data" holds for rolling back too, per instance: a freshly activated layer's first few
  // operations must not take it down on one unlucky failure.
  const evaluator = new TriggerEvaluator(deps.layers, timing);
  let running = Promise.resolve();
  let evaluating = false;

  /** One change for one trigger on one layer, however many instances it fired on (one version, one audit row). */
  const roll = async (firings: TriggerFiring[], outcome: EpochOutcome): Promise<void> => {
    const { trigger, layer, value } = firings[0] as TriggerFiring;
    const instances = firings.map((f) => f.instance);
    const instance = instances.join(',');
    const reference =
      trigger.relativeTo === 'target' ? ` × target ${trigger.target}/s` : trigger.relativeTo ? ' × baseline' : '';
    const condition = `${trigger.metric} ${trigger.op === 'below' ? '<' : '>'} ${trigger.threshold}${reference}`;
    const reason = `automatic rollback: trigger ${trigger.id} (${condition} for ${formatDurationMs(timing.holdMs(trigger))}; measured ${value.toFixed(4)} in epoch ${outcome.epochId})`;
    try {
      const result = await deps.manager.mutate(
        { kind: 'deactivate', layers: [layer], instances, cascade: true },
        {
          actor,
          reason,
          timeoutMs: 10_000,
          correlationId: `auto-${newTraceId().slice(0, 12)}`,
          rollbackReason: trigger.id,
        },
      );
      const downTo = result.plan.afterVersion;
      await alertHistoryStore.insert(
        deps.pool,
        firings.map((firing) => ({
          alert: 'RollbackTriggered',
          severity: 'critical',
          layer,
          instance: firing.instance,
          triggerId: trigger.id,
          value: firing.value,
          threshold: trigger.threshold,
          action: `deactivated ${layer} (and what requires it) on ${firing.instance}: v${result.plan.beforeVersion} → v${downTo}`,
          details: {
            metric: trigger.metric,
            op: trigger.op,
            for_ms: trigger.forMs,
            held_ms: firing.heldMs,
            hold_ms: timing.holdMs(trigger),
            evaluated_at: new Date(firing.at).toISOString(),
            epoch_id: outcome.epochId,
            transitions: result.plan.transitions,
          },
          firedAt: new Date(clock.now()),
        })),
      );
      log.warn(
        {
          operation: 'auto_rollback',
          layer,
          instance,
          trigger_id: trigger.id,
          value,
          threshold: trigger.threshold,
          version: downTo,
        },
        'automatic rollback: layer deactivated',
      );
    } catch (err) {
      // Not applied (lock held, storage away…): let the next epoch fire it again rather than forget it.
      for (const firing of firings) evaluator.retry(firing);
      log.error(
        { operation: 'auto_rollback', layer, instance, trigger_id: trigger.id, err },
        'automatic rollback failed; will retry',
      );
    }
  };

  const needsPerformance = deps.layers.rollbackTriggers.some(
    (t) => t.metric === 'latency_p99' || t.metric === 'throughput',
  );

  const evaluateWith = (
    outcome: EpochOutcome,
    now: number,
    performance?: (instance: string, layer: LayerId) => LayerPerformance | undefined,
  ): TriggerFiring[] => {
    const state = deps.desired();
    const snapshots = new Map(
      outcome.members
        .filter((m) => m.reachable && m.snapshot.length > 0)
        .map((m) => [m.member, instanceLayerFigures(m.snapshot)]),
    );
    return evaluator.evaluate({
      now,
      instances: deps.members,
      active: (instance, layer: LayerId) => isActive(state, instance, layer),
      figures: (instance, layer) => snapshots.get(instance)?.[layer],
      consensusError: outcome.error,
      ...(performance && { performance }),
    });
  };

  const enqueue = (firings: TriggerFiring[], outcome: EpochOutcome): void => {
    const groups = new Map<string, TriggerFiring[]>();
    for (const f of firings)
      groups.set(`${f.trigger.id}|${f.layer}`, [...(groups.get(`${f.trigger.id}|${f.layer}`) ?? []), f]);
    // One rollback at a time: they queue on the cluster lock anyway, and their order then follows the firings'.
    for (const group of groups.values()) running = running.then(() => roll(group, outcome));
  };

  return {
    evaluate(outcome: EpochOutcome): void {
      const reader = deps.performance;
      if (!needsPerformance || !reader) {
        enqueue(evaluateWith(outcome, clock.now()), outcome);
        return;
      }
      // Latency and throughput come from operation_history: read them, then evaluate every trigger on one clock
      // reading. A failed read leaves them unjudged this epoch (their holds end; the others are evaluated as ever).
      // Backpressure: while the previous epoch's read (or a rollback) is still running, this epoch is not evaluated
      // rather than queued behind it — a slow database must not build an ever-longer queue of stale epochs. A hold
      // is unaffected by a skipped epoch: it ends only on an epoch that is evaluated and does not see it.
      if (evaluating) return;
      evaluating = true;
      const now = clock.now();
      running = running.then(async () => {
        let performance: ((instance: string, layer: LayerId) => LayerPerformance | undefined) | undefined;
        try {
          performance = await reader.read(now);
        } catch (err) {
          log.error(
            { operation: 'auto_rollback', err },
            'could not read latency and throughput; not judged this epoch',
          );
        }
        try {
          enqueue(evaluateWith(outcome, now, performance), outcome);
        } finally {
          evaluating = false;
        }
      });
    },
  };
}
