// The framework runtime as a node runs it: which plugins run, R6's schedule, faults, the figures a node reports.
import {
  isLayerId,
  layerIds,
  type ClusterConfig,
  type LayerId,
  type LayersConfig,
  type Timing,
} from '../config/index.js';
import { agreedLayerView, measurementVector, type EpochOutcome } from '../consensus/index.js';
import type { LiveState } from '../live-state/index.js';
import type { RuntimeMetrics } from '../metrics/index.js';
import { callContext, type Clock, type Logger } from '../shared/index.js';
import {
  appendAudit,
  frameworkRegistryStore,
  withTransaction,
  type AuditKey,
  type StoragePool,
} from '../storage/index.js';
import { noFault, validateFault, type Fault } from './faults.js';
import type { Cohort, OperationRecord, OperationSink } from './operation.js';
import type { FrameworkPlugin } from './plugin.js';
import { r6Schedule } from './r6-schedule.js';
import { FrameworkRuntime, type AppliedLayers, type R6Run } from './runtime.js';
import { createSyntheticPack } from './synthetic.js';

export interface NodeRuntimeDeps {
  self: string;
  layers: LayersConfig;
  synthetic: ClusterConfig['synthetic'];
  timing: Pick<Timing, 'duration' | 'windowMs'>;
  /** Under the demo profile R6 runs every compressed week instead of on its cron expression. */
  compressed: boolean;
  pool: StoragePool;
  /** Keys the audit row of a fault change. */
  auditKey: AuditKey;
  sink: OperationSink;
  liveState: LiveState;
  metrics: RuntimeMetrics;
  clock: Clock;
  log: Logger;
  isLeader: () => boolean;
  /** Runs R6 on the leader when this node is not it (another node's Admin service). */
  runR6OnLeader: () => Promise<R6Run>;
  /** Sets a fault on another instance (its Admin service): a fault lives in the memory of the node it affects. */
  setFaultOn: (instance: string, change: FaultChange) => Promise<FaultsOf>;
}

/** The faults in force on one instance, by layer. */
export interface FaultsOf {
  instance: string;
  faults: Partial<Record<LayerId, Fault>>;
}

/** One layer's figures as a node reports them: its own window, or the cluster's agreed view. */
export interface LayerFigure {
  layer: LayerId;
  active: boolean;
  percentage: number;
  amplification?: number;
  errorRate?: number;
  /** Hours of burden saved per hour. */
  burdenRate: number;
  samples: number;
  reportingInstances: number;
}

export interface FaultChange {
  layer: LayerId;
  /** Absent clears the layer's fault. */
  fault?: Fault;
  /** Who asks, as verified; `onBehalfOf` is who the client says it acts for. */
  actor: string;
  onBehalfOf?: string;
  reason?: string;
}

export type NodeRuntime = ReturnType<typeof createNodeRuntime>;

/**
 * What a node's runtime is: the plugins that run here (the synthetic pack when enabled), R6 on its schedule from the
 * leader, faults from config or an operator, and the figures this node contributes to consensus and reports.
 */
export function createNodeRuntime(deps: NodeRuntimeDeps) {
  const { self, clock, log } = deps;
  const schedule = deps.layers.layers.find((l) => l.id === 'R6')?.schedule;
  const r6 = r6Schedule(schedule, deps.compressed ? deps.timing.duration : undefined);
  const plugins: FrameworkPlugin[] = deps.synthetic.enabled
    ? createSyntheticPack(deps.layers, {
        seed: deps.synthetic.seed,
        baseBurdenHoursPerWeek: deps.synthetic.baseBurdenHoursPerWeek,
        intervalMs: deps.synthetic.intervalMs,
        r6PeriodMs: r6.periodMs,
      })
    : [];
  const runtime = new FrameworkRuntime({
    instance: self,
    layers: deps.layers,
    plugins,
    clock,
    log,
    metrics: deps.metrics,
    sink: deps.sink,
    intervalMs: deps.synthetic.intervalMs,
    windowMs: deps.timing.windowMs,
    r6,
    isLeader: deps.isLeader,
    liveState: deps.liveState,
  });
  for (const f of deps.synthetic.faults) {
    if (f.instance === self && isLayerId(f.layer))
      runtime.setFault(f.layer, { errorRate: f.errorRate, burdenScale: f.burdenScale, latencyMs: f.latencyMs });
  }

  // What GetState reports, memoised for 250 ms: windowed aggregates move on the scale of seconds, and recomputing them
  // on every GetState made the call twice as costly as the bare RPC.
  let memo:
    { at: number; epoch: string | undefined; value: { local: LayerFigure[]; agreed: LayerFigure[] } } | undefined;
  const computeFigures = (outcome: EpochOutcome | undefined) => {
    const local: LayerFigure[] = runtime.snapshot().map((s) => ({
      layer: s.layer,
      active: s.active,
      percentage: s.percentage,
      ...(s.amplification !== undefined ? { amplification: s.amplification } : {}),
      ...(s.errorRate !== undefined ? { errorRate: s.errorRate } : {}),
      burdenRate: s.rate,
      samples: s.ops,
      reportingInstances: s.active && s.amplification !== undefined ? 1 : 0,
    }));
    const reporting = outcome ? Math.max(1, outcome.members.filter((m) => m.reachable).length) : 1;
    const view = outcome ? agreedLayerView(outcome.agreed, reporting) : undefined;
    const agreed: LayerFigure[] = view
      ? layerIds.map((l) => ({
          layer: l,
          active: view[l].reportingInstances > 0,
          percentage: 0,
          ...(view[l].amplification !== undefined ? { amplification: view[l].amplification } : {}),
          ...(view[l].errorRate !== undefined ? { errorRate: view[l].errorRate } : {}),
          burdenRate: view[l].burdenRate,
          samples: view[l].samples,
          reportingInstances: view[l].reportingInstances,
        }))
      : [];
    return { local, agreed };
  };

  return {
    apply: (applied: AppliedLayers): void => runtime.apply(applied),
    /** R6 now: here when this node leads (refused unless R6 is active here), else on the leader. */
    async runR6(): Promise<R6Run> {
      if (!deps.isLeader()) return deps.runR6OnLeader();
      return runtime.runR6(callContext.getStore()?.trace_id);
    },
    /**
     * Sets or clears a synthetic fault on this node, audited before it takes effect (an admin action, like a
     * desired-state change, even though it lives in memory only).
     */
    async setFault(instance: string, change: FaultChange): Promise<FaultsOf> {
      if (instance !== self) return deps.setFaultOn(instance, change);
      const fault = change.fault ? validateFault(change.fault) : noFault;
      const context = callContext.getStore();
      const flags = change.fault
        ? ` --error-rate ${fault.errorRate} --burden-scale ${fault.burdenScale} --latency ${fault.latencyMs}ms`
        : ' --clear';
      await withTransaction(deps.pool, (client) =>
        appendAudit(client, deps.auditKey, {
          actor: change.actor || 'unknown',
          on_behalf_of: change.onBehalfOf ?? null,
          command: `triad inject-fault --instance ${self} --layer ${change.layer}${flags}`,
          args: { instance: self, layer: change.layer, fault, clear: change.fault === undefined, synthetic: true },
          reason: change.reason ?? null,
          correlation_id: context?.correlation_id ?? context?.trace_id ?? '',
          outcome: 'applied (synthetic pack, in memory)',
          undo_command: change.fault ? `triad inject-fault --instance ${self} --layer ${change.layer} --clear` : null,
        }),
      );
      runtime.setFault(change.layer, fault);
      return { instance: self, faults: runtime.faultsNow() };
    },
    /** The cohort an operation of `layer` on this node belongs to, from the applied percentage (null: not active). */
    cohortOf: (layer: LayerId): Cohort | null => runtime.cohortOf(layer),
    /** Operations ingested from outside automation (already durable): counted and windowed like our own. */
    recordIngested: (records: readonly OperationRecord[]): void => runtime.recordIngested(records),
    /** m_i for consensus (DESIGN §3): this node's figures of the window, zeros for what it does not run. */
    measure(): number[] {
      // The window's figures only: gauges are refreshed for scrapes, not on the epoch's critical path.
      return measurementVector(
        Object.fromEntries(
          runtime.snapshot().map((s) => {
            const reporting = s.active && s.amplification !== undefined;
            return [
              s.layer,
              {
                amplification: s.amplification ?? 0,
                error_rate: s.errorRate ?? 0,
                burden_rate: s.rate,
                reporting: reporting ? 1 : 0,
                samples: s.ops,
                settled: reporting && s.settled ? 1 : 0,
              },
            ];
          }),
        ),
      );
    },
    /** This node's own figures of the window, and the cluster's agreed view from `outcome` (the last epoch's). */
    figures(outcome: EpochOutcome | undefined): { local: LayerFigure[]; agreed: LayerFigure[] } {
      const now = clock.monotonicMs();
      if (memo && now - memo.at < 250 && memo.epoch === outcome?.epochId) return memo.value;
      const value = computeFigures(outcome);
      memo = { at: now, epoch: outcome?.epochId, value };
      return value;
    },
    refreshMetrics: (): void => void runtime.refreshMetrics(),
    async start(): Promise<void> {
      await frameworkRegistryStore.upsert(
        deps.pool,
        plugins.map((p) => ({ frameworkId: p.id, layer: p.layer, description: p.description, synthetic: p.synthetic })),
      );
      runtime.start();
    },
    stop: (): Promise<void> => runtime.stop(),
  };
}
