// Past the ~300-line cue on purpose: FrameworkRuntime is one state machine — the applied layers, the window, faults,
// the scheduled and R6 loops all change together under apply(). Its metrics (operation-metrics.ts), R6's schedule
// (r6-schedule.ts) and the node's use of it (node-runtime.ts) live beside it.
import { randomUUID } from 'node:crypto';
import { layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import type { LiveState } from '../live-state/index.js';
import type { RuntimeMetrics } from '../metrics/index.js';
import { repeatEvery, TriadError, type Clock, type Logger } from '../shared/index.js';
import { inCohort } from './deterministic.js';
import { isNoFault, noFault, validateFault, type Fault } from './faults.js';
import type { Cohort, OperationRecord, OperationSink } from './operation.js';
import { countOperations, setPlanGauges } from './operation-metrics.js';
import type { FrameworkPlugin } from './plugin.js';
import { amplificationByLayer, SlidingWindow, type LayerFigures } from './window.js';

export interface AppliedLayers {
  /** Active layers on this node and their rollout percentage (1–100). */
  layers: ReadonlyMap<LayerId, number>;
  disabledFrameworks: ReadonlySet<string>;
}

export interface RuntimeDeps {
  instance: string;
  layers: LayersConfig;
  plugins: readonly FrameworkPlugin[];
  clock: Clock;
  log: Logger;
  metrics: RuntimeMetrics;
  sink: OperationSink;
  /** Each plugin of an active layer runs once per interval (R6 excepted: it runs on its schedule). */
  intervalMs: number;
  windowMs: number;
  /** R6's schedule: when the next run after `from` is due, and how much time one run accounts for. */
  r6: { periodMs: number; nextRunAt: (from: number) => number };
  isLeader: () => boolean;
  liveState?: LiveState;
}

export interface LayerSnapshot extends LayerFigures {
  layer: LayerId;
  active: boolean;
  percentage: number;
  amplification?: number;
  errorRate?: number;
  /**
   * False while the window still holds operations from before the last change of this layer or of the layer its ratio
   * is taken against (enablement or percentage): such a window mixes two configurations, so its figures describe
   * neither, and gates and triggers must treat them as INCONCLUSIVE until the window has turned over.
   */
  settled: boolean;
}

export interface R6Run {
  instance: string;
  operationId: string;
  burdenSavedHours: number;
  amplification?: number;
  durationMs: number;
  success: boolean;
}

/**
 * Runs the frameworks of this node's active layers, takes in operations ingested from outside, and turns both into
 * metrics, the per-layer figures of the window (amplification, error rate, burden rate) and the measurement vector
 * consensus agrees on. Every operation is logged, counted, and handed to the sink to become durable.
 */
export class FrameworkRuntime {
  private applied: AppliedLayers = { layers: new Map(), disabledFrameworks: new Set() };
  private readonly faults = new Map<LayerId, Fault>();
  private readonly window: SlidingWindow;
  private seq = 0;
  private lastR6?: { at: number; burdenHours: number };
  private readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly startedAt: number;
  /** When each active layer was switched on here: its rate is measured over min(window, time since). */
  private readonly activatedAt = new Map<LayerId, number>();
  /** When each layer's enablement or percentage last changed here (node start counts: nothing came before it). */
  private readonly changedAt = new Map<LayerId, number>();

  constructor(private readonly deps: RuntimeDeps) {
    this.startedAt = deps.clock.now();
    this.window = new SlidingWindow(deps.windowMs);
    for (const layer of layerIds) this.changedAt.set(layer, this.startedAt);
    this.publishActive();
  }

  apply(applied: AppliedLayers): void {
    const now = this.deps.clock.now();
    for (const layer of layerIds) {
      if (!applied.layers.has(layer)) this.activatedAt.delete(layer);
      else if (!this.activatedAt.has(layer)) this.activatedAt.set(layer, now);
      if (applied.layers.get(layer) !== this.applied.layers.get(layer)) this.changedAt.set(layer, now);
    }
    this.applied = applied;
    this.publishActive();
  }

  setFault(layer: LayerId, fault: Fault): void {
    if (isNoFault(fault)) this.faults.delete(layer);
    else this.faults.set(layer, validateFault(fault));
    this.deps.log.warn(
      { operation: 'inject_fault', layer, ...fault, synthetic: true },
      isNoFault(fault) ? 'synthetic fault cleared' : 'synthetic fault injected',
    );
  }

  faultsNow(): Partial<Record<LayerId, Fault>> {
    return Object.fromEntries(this.faults);
  }

  start(): void {
    this.loops.push(repeatEvery(this.deps.clock, this.deps.intervalMs, this.stopping.signal, () => this.tick()));
    this.loops.push(this.r6Loop());
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('stopping'));
    await Promise.all(this.loops);
    await Promise.allSettled([...this.inFlight]);
  }

  /** One scheduled round: every framework of an active layer, for the operation keys in its rollout cohort. */
  tick(): void {
    const seq = ++this.seq;
    for (const plugin of this.deps.plugins) {
      if (plugin.layer === 'R6' || !this.runs(plugin)) continue;
      const key = `${this.deps.instance}:${plugin.id}:${seq}`;
      if (!inCohort(key, plugin.layer, this.applied.layers.get(plugin.layer) ?? 0)) continue;
      this.track(this.execute(plugin, key).then(() => undefined));
    }
  }

  /** The cohort an operation of `layer` belongs to here: from the applied percentage, null while it is not active. */
  cohortOf(layer: LayerId): Cohort | null {
    const percentage = this.applied.layers.get(layer);
    return percentage === undefined ? null : percentage < 100 ? 'partial' : 'full';
  }

  /** Operations ingested from outside automation (already durable): counted, windowed and logged like our own. */
  recordIngested(records: readonly OperationRecord[]): void {
    this.account(records);
  }

  /** R6 now (the cron schedule, or `triad run-r6-orchestration`); refused unless R6 is active here. */
  async runR6(traceId?: string): Promise<R6Run> {
    const plugin = this.deps.plugins.find((p) => p.layer === 'R6');
    if (!plugin) {
      // A caller's request, not a bug: this node simply has nothing to run for R6 (no plugin implements it).
      throw new TriadError(
        'NOT_FOUND',
        `no R6 framework runs on ${this.deps.instance}: R6's plugin comes with the synthetic pack (synthetic.enabled in cluster.yaml)`,
      );
    }
    if (!this.runs(plugin)) {
      throw new TriadError(
        'GATE_REFUSED',
        `R6 is not active on ${this.deps.instance}${this.applied.disabledFrameworks.has(plugin.id) ? ` (${plugin.id} is disabled)` : ''}: triad activate-layers --layers R6 first`,
      );
    }
    const record = await this.execute(
      plugin,
      `${this.deps.instance}:${plugin.id}:r6:${this.deps.clock.now()}`,
      traceId,
    );
    if (record.success) this.lastR6 = { at: this.deps.clock.now(), burdenHours: record.burdenSavedHours };
    return {
      instance: this.deps.instance,
      operationId: record.operationId,
      burdenSavedHours: record.burdenSavedHours,
      ...(this.snapshot().find((s) => s.layer === 'R6')?.amplification !== undefined
        ? { amplification: this.snapshot().find((s) => s.layer === 'R6')?.amplification }
        : {}),
      durationMs: record.durationMs,
      success: record.success,
    };
  }

  /** Per-layer figures of the current window, with amplification per DESIGN §4. */
  snapshot(): LayerSnapshot[] {
    const now = this.deps.clock.now();
    const figures = {} as Record<LayerId, LayerFigures>;
    for (const layer of layerIds) {
      // A layer switched on 30 s ago has 30 s of data, not a window's worth: dividing by the full window would read
      // every fresh layer (and the whole cascade after a restart) as slower than it is.
      const since = Math.max(this.startedAt, this.activatedAt.get(layer) ?? this.startedAt);
      const hours = Math.max(1_000, Math.min(this.window.spanMs(now), now - since)) / 3_600_000;
      const totals = this.deps.plugins.filter((p) => p.layer === layer).map((p) => this.window.totals(p.id, now));
      const ops = totals.reduce((s, t) => s + t.ops, 0);
      const errors = totals.reduce((s, t) => s + t.errors, 0);
      let burdenHours = totals.reduce((s, t) => s + t.burdenHours, 0);
      let rate = burdenHours / hours;
      // R6 runs once per period, not continuously: its rate is its last run spread over the period, while fresh.
      if (layer === 'R6') {
        const fresh = this.lastR6 && now - this.lastR6.at <= 1.5 * this.deps.r6.periodMs;
        burdenHours = fresh ? (this.lastR6?.burdenHours ?? 0) : 0;
        rate = fresh ? burdenHours / (this.deps.r6.periodMs / 3_600_000) : 0;
      }
      const share = (this.applied.layers.get(layer) ?? 100) / 100;
      figures[layer] = {
        ops: layer === 'R6' && rate > 0 ? Math.max(ops, 1) : ops,
        errors,
        burdenHours,
        rate,
        normalisedRate: rate / share,
      };
    }
    const amplification = amplificationByLayer(figures);
    const changed = (layer: LayerId | undefined) => (layer ? (this.changedAt.get(layer) ?? now) : 0);
    return layerIds.map((layer, i) => ({
      layer,
      ...figures[layer],
      active: this.applied.layers.has(layer),
      percentage: this.applied.layers.get(layer) ?? 0,
      ...(amplification[layer] !== undefined ? { amplification: amplification[layer] } : {}),
      ...(figures[layer].ops > 0 ? { errorRate: figures[layer].errors / figures[layer].ops } : {}),
      settled: now - Math.max(changed(layer), changed(layerIds[i - 1])) >= this.deps.windowMs,
    }));
  }

  /** Sets every gauge from the current window; called before each scrape and each consensus snapshot. */
  refreshMetrics(): LayerSnapshot[] {
    const { metrics } = this.deps;
    const snap = this.snapshot();
    let cascade = 1;
    for (const s of snap) {
      if (s.amplification !== undefined) metrics.amplification.set({ layer: s.layer }, s.amplification);
      else metrics.amplification.remove({ layer: s.layer });
      if (s.active && s.amplification !== undefined) cascade *= s.amplification;
    }
    metrics.cascade.set(cascade);
    metrics.queueDepth.set(this.deps.sink.depth());
    const now = this.deps.clock.now();
    setPlanGauges(metrics.layerGauges, snap, {
      plugins: this.deps.plugins,
      totals: (id) => this.window.totals(id, now),
      runs: (plugin) => this.runs(plugin),
    });
    return snap;
  }

  private runs(plugin: FrameworkPlugin): boolean {
    return this.applied.layers.has(plugin.layer) && !this.applied.disabledFrameworks.has(plugin.id);
  }

  private publishActive(): void {
    for (const p of this.deps.plugins)
      this.deps.metrics.frameworkActive.set({ layer: p.layer, framework: p.id }, this.runs(p) ? 1 : 0);
  }

  private async execute(plugin: FrameworkPlugin, operationKey: string, traceId?: string): Promise<OperationRecord> {
    const { clock, metrics, liveState, instance } = this.deps;
    const operationId = randomUUID();
    const startedAt = clock.now();
    const started = clock.monotonicMs();
    metrics.fires.inc({ layer: plugin.layer, framework: plugin.id });
    const percentage = this.applied.layers.get(plugin.layer) ?? 100;
    void liveState
      ?.beginOperation(operationId, { framework_id: plugin.id, layer: plugin.layer, instance, started_at: startedAt })
      .catch(() => undefined);
    const base = {
      operationId,
      frameworkId: plugin.id,
      layer: plugin.layer,
      instance,
      startedAt,
      traceId: traceId ?? null,
      source: plugin.synthetic ? ('synthetic' as const) : ('ingest' as const),
      cohort: percentage < 100 ? ('partial' as const) : ('full' as const),
    };
    let record: OperationRecord;
    try {
      const result = await plugin.run({
        instance,
        operationKey,
        clock,
        fault: this.faults.get(plugin.layer) ?? noFault,
      });
      record = {
        ...base,
        durationMs: result.durationMs,
        burdenSavedHours: result.burdenSavedHours,
        success: result.success,
        errorType: result.success ? null : (result.errorType ?? 'internal'),
      };
    } catch (err) {
      this.deps.log.error({ operation: 'framework_execution', framework_id: plugin.id, err }, 'framework threw');
      record = {
        ...base,
        durationMs: clock.monotonicMs() - started,
        burdenSavedHours: 0,
        success: false,
        errorType: 'internal',
      };
    } finally {
      void liveState?.endOperation(operationId).catch(() => undefined);
    }
    this.account([record]);
    // Durability is the sink's job; a failed write is logged, and the operation stays counted in this node's metrics.
    this.deps.sink
      .submit([record])
      .catch((err: unknown) =>
        this.deps.log.warn(
          { operation: 'framework_execution', framework_id: plugin.id, err },
          'operation not persisted',
        ),
      );
    return record;
  }

  /** Counts, windows and logs operations (counted per batch: see countOperations). */
  private account(records: readonly OperationRecord[]): void {
    const { log, clock } = this.deps;
    const now = clock.now();
    countOperations(this.deps.metrics, records);
    for (const r of records) {
      this.window.add(r.frameworkId, now, r.burdenSavedHours, r.success, r.durationMs);
      log.info(
        {
          operation: 'framework_execution',
          framework_id: r.frameworkId,
          layer: r.layer,
          duration_ms: Math.round(r.durationMs * 1000) / 1000,
          burden_saved_hours: r.burdenSavedHours,
          success: r.success,
          ...(r.traceId ? { trace_id: r.traceId } : {}),
          ...(r.errorType ? { error_type: r.errorType } : {}),
          source: r.source,
          ...(r.cohort === 'partial' ? { cohort: 'partial' } : {}),
        },
        r.source === 'synthetic' ? 'synthetic framework operation' : 'framework operation',
      );
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** R6 on its cron schedule, from the leader only (DESIGN §2): sleeps in slices so a clock jump is noticed. */
  private async r6Loop(): Promise<void> {
    const { clock, log } = this.deps;
    const signal = this.stopping.signal;
    let due = this.deps.r6.nextRunAt(clock.now());
    while (!signal.aborted) {
      try {
        await clock.sleep(Math.max(0, Math.min(60_000, due - clock.now())), signal);
      } catch {
        return;
      }
      if (clock.now() < due) continue;
      due = this.deps.r6.nextRunAt(clock.now());
      const plugin = this.deps.plugins.find((p) => p.layer === 'R6');
      if (!plugin || !this.deps.isLeader() || !this.runs(plugin)) continue;
      try {
        const run = await this.runR6();
        log.info(
          {
            operation: 'r6_orchestration',
            framework_id: plugin.id,
            burden_saved_hours: run.burdenSavedHours,
            amplification: run.amplification,
          },
          'scheduled R6 orchestration ran',
        );
      } catch (err) {
        log.error({ operation: 'r6_orchestration', err }, 'scheduled R6 orchestration failed');
      }
    }
  }
}
