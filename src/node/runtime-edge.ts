import type { Client, UntypedServiceImplementation } from '@grpc/grpc-js';
import { CronExpressionParser } from 'cron-parser';
import type pg from 'pg';
import { isLayerId, layerIds, type LayerId, type TriadConfig } from '../config/index.js';
import { agreedLayerView, measurementVector } from '../consensus/index.js';
import type { DesiredState } from '../layer-manager/index.js';
import type { LiveState } from '../live-state/index.js';
import type { RuntimeMetrics } from '../metrics/index.js';
import {
  callUnary,
  createServiceClient,
  unaryHandler,
  type EpochOutcome,
  type InjectFaultReply,
  type InjectFaultRequest,
  type LayerFigure,
  type NodeState,
  type R6Result,
} from '../protocol/index.js';
import { callContext, TriadError, type Clock, type Logger } from '../shared/index.js';
import {
  createSyntheticPack,
  FrameworkRuntime,
  noFault,
  type FrameworkPlugin,
  type OperationSink,
} from '../runtime/index.js';
import { appendAudit, withTransaction } from '../storage/index.js';

export interface RuntimeEdgeDeps {
  config: TriadConfig;
  self: string;
  clock: Clock;
  log: Logger;
  metrics: RuntimeMetrics;
  pool: pg.Pool;
  sink: OperationSink;
  liveState: LiveState;
  isLeader: () => boolean;
  lastOutcome: () => EpochOutcome | undefined;
}

const week = 7 * 86_400_000;

/**
 * Wires the framework runtime into a node: which plugins run (the synthetic pack when enabled), R6's schedule, the
 * window, faults from config, the Admin calls for R6 and fault injection, and what GetState reports of the figures.
 */
export function createRuntimeEdge(deps: RuntimeEdgeDeps) {
  const { config, self, clock, log } = deps;
  const demo = config.env.profile === 'demo';
  const { duration, windowMs } = config.timing;
  const schedule = config.layers.layers.find((l) => l.id === 'R6')?.schedule;
  // The demo compresses R6's week like every other duration; production follows the cron expression.
  const r6 =
    demo || !schedule
      ? { periodMs: duration(week), nextRunAt: (from: number) => from + duration(week) }
      : {
          periodMs: week,
          nextRunAt: (from: number) =>
            CronExpressionParser.parse(schedule, { currentDate: new Date(from), tz: 'UTC' })
              .next()
              .getTime(),
        };
  const plugins: FrameworkPlugin[] = config.cluster.synthetic.enabled
    ? createSyntheticPack(config.layers, {
        seed: config.cluster.synthetic.seed,
        baseBurdenHoursPerWeek: config.cluster.synthetic.baseBurdenHoursPerWeek,
        intervalMs: config.cluster.synthetic.intervalMs,
        r6PeriodMs: r6.periodMs,
      })
    : [];
  const runtime = new FrameworkRuntime({
    instance: self,
    layers: config.layers,
    plugins,
    clock,
    log,
    metrics: deps.metrics,
    sink: deps.sink,
    intervalMs: config.cluster.synthetic.intervalMs,
    windowMs,
    r6,
    isLeader: deps.isLeader,
    liveState: deps.liveState,
  });
  for (const f of config.cluster.synthetic.faults) {
    if (f.instance === self && isLayerId(f.layer))
      runtime.setFault(f.layer, { errorRate: f.errorRate, burdenScale: f.burdenScale, latencyMs: f.latencyMs });
  }

  const peers = new Map(config.cluster.instances.map((i) => [i.name, `${i.host}:${i.grpcPort}`]));
  /** Another node's Admin service, for calls that must run where the state is (the leader, a fault's instance). */
  const forward = async <Req, Res>(instance: string, method: string, request: Req): Promise<Res> => {
    const address = peers.get(instance);
    if (!address)
      throw new TriadError(
        'INPUT_INVALID',
        `unknown instance "${instance}" (instances: ${[...peers.keys()].join(', ')})`,
      );
    const client = createServiceClient<Client>('Admin', address);
    try {
      return await callUnary<Req, Res>(client, method, request, { deadlineMs: 10_000 });
    } finally {
      client.close();
    }
  };
  const findLeader = async (): Promise<string> => {
    for (const [name, address] of peers) {
      if (name === self) continue;
      const client = createServiceClient<Client>('Node', address);
      try {
        if ((await callUnary<object, NodeState>(client, 'GetState', {}, { deadlineMs: 1_500 })).leader) return name;
      } catch {
        // unreachable: not the leader we can use
      } finally {
        client.close();
      }
    }
    throw new TriadError(
      'PEER_UNAVAILABLE',
      'no node is leader right now (is PostgreSQL reachable?); retry in a few seconds',
    );
  };

  const adminHandlers: UntypedServiceImplementation = {
    RunR6Orchestration: unaryHandler<{ actor: string }, R6Result>(log, 'RunR6Orchestration', async (request) => {
      if (!deps.isLeader())
        return forward<{ actor: string }, R6Result>(await findLeader(), 'RunR6Orchestration', request);
      const run = await runtime.runR6(callContext.getStore()?.trace_id);
      return {
        instance: run.instance,
        operation_id: run.operationId,
        burden_saved_hours: run.burdenSavedHours,
        has_amplification: run.amplification !== undefined,
        amplification: run.amplification ?? 0,
        duration_ms: run.durationMs,
        success: run.success,
      };
    }),
    InjectFault: unaryHandler<InjectFaultRequest, InjectFaultReply>(log, 'InjectFault', async (request) => {
      if (!isLayerId(request.layer))
        throw new TriadError('INPUT_INVALID', `unknown layer "${request.layer}" (layers: ${layerIds.join(', ')})`);
      if (request.instance !== self)
        return forward<InjectFaultRequest, InjectFaultReply>(request.instance, 'InjectFault', request);
      const fault = request.clear
        ? noFault
        : {
            errorRate: request.error_rate,
            burdenScale: request.burden_scale === 0 ? 1 : request.burden_scale,
            latencyMs: request.latency_ms,
          };
      runtime.setFault(request.layer, fault);
      await withTransaction(deps.pool, (client) =>
        appendAudit(client, {
          actor: request.actor || 'unknown',
          command: `triad inject-fault --instance ${self} --layer ${request.layer}${request.clear ? ' --clear' : ` --error-rate ${fault.errorRate} --burden-scale ${fault.burdenScale} --latency ${fault.latencyMs}ms`}`,
          args: { ...request, synthetic: true },
          reason: request.reason || null,
          correlation_id: callContext.getStore()?.correlation_id ?? callContext.getStore()?.trace_id ?? '',
          outcome: 'applied (synthetic pack, in memory)',
          undo_command: request.clear ? null : `triad inject-fault --instance ${self} --layer ${request.layer} --clear`,
        }),
      );
      return {
        instance: self,
        faults: Object.entries(runtime.faultsNow()).map(([layer, f]) => ({
          layer,
          error_rate: f.errorRate,
          burden_scale: f.burdenScale,
          latency_ms: f.latencyMs,
        })),
      };
    }),
  };

  let memo:
    { at: number; epoch: string | undefined; value: Pick<NodeState, 'local_layers' | 'agreed_layers'> } | undefined;
  function computeFigures(outcome: EpochOutcome | undefined): Pick<NodeState, 'local_layers' | 'agreed_layers'> {
    const local: LayerFigure[] = runtime.snapshot().map((s) => ({
      layer: s.layer,
      active: s.active,
      percentage: s.percentage,
      has_amplification: s.amplification !== undefined,
      amplification: s.amplification ?? 0,
      has_error_rate: s.errorRate !== undefined,
      error_rate: s.errorRate ?? 0,
      burden_rate: s.rate,
      samples: s.ops,
      reporting_instances: s.active && s.amplification !== undefined ? 1 : 0,
    }));
    const reporting = outcome ? Math.max(1, outcome.members.filter((m) => m.reachable).length) : 1;
    const view = outcome ? agreedLayerView(outcome.agreed, reporting) : undefined;
    const agreed: LayerFigure[] = view
      ? layerIds.map((l) => ({
          layer: l,
          active: view[l].reportingInstances > 0,
          percentage: 0,
          has_amplification: view[l].amplification !== undefined,
          amplification: view[l].amplification ?? 0,
          has_error_rate: view[l].errorRate !== undefined,
          error_rate: view[l].errorRate ?? 0,
          burden_rate: view[l].burdenRate,
          samples: view[l].samples,
          reporting_instances: view[l].reportingInstances,
        }))
      : [];
    return { local_layers: local, agreed_layers: agreed };
  }

  return {
    runtime,
    adminHandlers,
    apply(state: DesiredState) {
      const layers = new Map<LayerId, number>();
      for (const l of layerIds) {
        const s = state.instances[self]?.[l];
        if (!state.emergency_disabled && s?.enabled) layers.set(l, s.percentage);
      }
      runtime.apply({ layers, disabledFrameworks: new Set(state.disabled_frameworks) });
    },
    /** The cohort an ingested operation of `layer` belongs to on this node (metrics label). */
    cohortOf(layer: LayerId): 'full' | 'partial' | null {
      const s = runtime.snapshot().find((x) => x.layer === layer);
      return !s?.active ? null : s.percentage < 100 ? 'partial' : 'full';
    },
    /** m_i for consensus (DESIGN §3): this node's figures of the window, zeros for what it does not run. */
    measure(): number[] {
      // The window's figures only: gauges are refreshed for scrapes, not on the epoch's critical path.
      const snap = runtime.snapshot();
      return measurementVector(
        Object.fromEntries(
          snap.map((s) => [
            s.layer,
            {
              amplification: s.amplification ?? 0,
              error_rate: s.errorRate ?? 0,
              burden_rate: s.rate,
              reporting: s.active && s.amplification !== undefined ? 1 : 0,
              samples: s.ops,
              settled: s.active && s.amplification !== undefined && s.settled ? 1 : 0,
            },
          ]),
        ),
      );
    },
    /**
     * What GetState reports of the figures, memoised for 250 ms: they are windowed aggregates that move on the scale
     * of seconds, and recomputing them on every GetState made the call twice as costly as the bare RPC.
     */
    figures(): Pick<NodeState, 'local_layers' | 'agreed_layers'> {
      const now = clock.monotonicMs();
      const outcome = deps.lastOutcome();
      if (memo && now - memo.at < 250 && memo.epoch === outcome?.epoch_id) return memo.value;
      const value = computeFigures(outcome);
      memo = { at: now, epoch: outcome?.epoch_id, value };
      return value;
    },
    async start() {
      // The registry lists what can run here; upserted so a description change in layers.yaml shows up.
      for (const p of plugins) {
        await deps.pool.query(
          `INSERT INTO framework_registry (framework_id, layer, description, synthetic) VALUES ($1, $2, $3, $4)
           ON CONFLICT (framework_id) DO UPDATE SET layer = EXCLUDED.layer, description = EXCLUDED.description,
             synthetic = EXCLUDED.synthetic, updated_at = now()`,
          [p.id, p.layer, p.description, p.synthetic],
        );
      }
      runtime.start();
    },
    stop: () => runtime.stop(),
  };
}
