import type { Client, UntypedServiceImplementation } from '@grpc/grpc-js';
import { layerIds, type TriadConfig } from '../config/index.js';
import { agreedLayerView, instanceLayerFigures, type ConsensusCoordinator } from '../consensus/index.js';
import type { CheckResult } from '../health/index.js';
import {
  appliedLayerNames,
  BandTracker,
  DesiredStateApplier,
  DesiredStateStore,
  diffStates,
  healthLayers,
  layerHealth,
  LayerManager,
  LeaderElection,
  type AgreedFigures,
  type InstanceView,
  type VersionRow,
} from '../layer-manager/index.js';
import type { LayerMetrics } from '../metrics/index.js';
import {
  callUnary,
  createServiceClient,
  serverStreamHandler,
  unaryHandler,
  type ApplyReply,
  type ApplyRequest,
  type EpochOutcome,
  type HealthReport,
  type MutationEvent,
  type MutationRequest,
  type NodeState,
  type VerifyAuditReply,
  type VersionSummary,
} from '../protocol/index.js';
import { callContext, newTraceId, TriadError, type Clock, type Logger } from '../shared/index.js';
import {
  createConsensusJournal,
  verifyAuditChain,
  type ConsensusMeasurementRow,
  type StoragePool,
} from '../storage/index.js';
import { createAutoRollback } from './auto-rollback.js';

export interface LayerEdgeDeps {
  config: TriadConfig;
  databaseUrl: string;
  pool: StoragePool;
  /** Each newly applied desired-state version (the runtime switches layers with it). */
  onApplied: (row: VersionRow) => void;
  self: string;
  clock: Clock;
  log: Logger;
  metrics: LayerMetrics;
  consensus: ConsensusCoordinator;
  isReachable: (member: string) => boolean;
  rttMs: (member: string) => number;
}

/**
 * Wires the layer manager into a node: storage, the applier that follows desired state, leader election, the Admin
 * calls operators make, the Peer.Apply push, and what GetState and /ready report about them.
 */
export function createLayerEdge(deps: LayerEdgeDeps) {
  const { config, self, clock, log, metrics } = deps;
  const members = config.cluster.instances.map((i) => i.name);
  const { pool } = deps;
  const store = new DesiredStateStore(members);
  const bands = new BandTracker();
  let storageError: string | undefined;
  const journal = createConsensusJournal({ pool, clock, log });

  const applyMetrics = (row: VersionRow) => {
    for (const layer of layerIds) {
      const s = row.state.instances[self]?.[layer];
      const on = !row.state.emergency_disabled && s?.enabled === true;
      metrics.layerEnabled.set({ layer }, on ? 1 : 0);
      metrics.rolloutPercentage.set({ layer }, on ? (s?.percentage ?? 0) : 0);
    }
    metrics.desiredStateVersion.set(row.version);
    deps.onApplied(row);
  };
  const applier = new DesiredStateApplier({
    pool,
    databaseUrl: deps.databaseUrl,
    store,
    self,
    clock,
    log,
    onApplied: applyMetrics,
  });
  let leaderSince: number | undefined;
  const leader = new LeaderElection({
    databaseUrl: deps.databaseUrl,
    self,
    clock,
    log,
    onChange: (leading) => {
      leaderSince = leading ? clock.now() : undefined;
      metrics.leader.set(leading ? 1 : 0);
      // A new leader measures at once rather than an interval later.
      if (leading) deps.consensus.kick();
    },
  });
  metrics.leader.set(0);

  const peerClients = new Map<string, Client>(
    config.cluster.instances
      .filter((i) => i.name !== self)
      .map((i) => [i.name, createServiceClient<Client>('Peer', `${i.host}:${i.grpcPort}`)]),
  );

  const agreed = (): AgreedFigures | undefined => figuresOf(deps.consensus.last());
  const manager = new LayerManager({
    pool,
    store,
    layers: config.layers,
    members,
    clock,
    log,
    timing: config.timing,
    agreed,
    bands,
    reachable: (m) => m === self || deps.isReachable(m),
    rttMs: (m) => (m === self ? 0 : deps.rttMs(m)),
    pushApply: async (instance, version, deadlineMs) => {
      if (instance === self) return applier.applyAtLeast(version);
      const client = peerClients.get(instance);
      if (!client) throw new TriadError('INTERNAL', `no peer ${instance}`);
      const reply = await callUnary<ApplyRequest, ApplyReply>(client, 'Apply', { version }, { deadlineMs });
      return reply.applied_version;
    },
    onRollback: (layer, reason) => metrics.rollbacks.inc({ layer, reason }),
  });

  const autoRollback = createAutoRollback({
    config,
    manager,
    pool,
    clock,
    log,
    members,
    desired: () => applier.applied.state,
  });

  /** Each node's applied state, asked over gRPC (this node answers from memory). */
  const instanceViews = async (): Promise<InstanceView[]> =>
    Promise.all(
      config.cluster.instances.map(async (i): Promise<InstanceView> => {
        if (i.name === self)
          return {
            instance: self,
            reachable: true,
            appliedVersion: applier.applied.version,
            appliedLayers: appliedLayerNames(applier.applied.state, self),
          };
        const client = createServiceClient<Client>('Node', `${i.host}:${i.grpcPort}`);
        try {
          const s = await callUnary<object, NodeState>(client, 'GetState', {}, { deadlineMs: 1_500 });
          return {
            instance: i.name,
            reachable: true,
            appliedVersion: s.applied_version,
            appliedLayers: s.active_layers,
          };
        } catch {
          return { instance: i.name, reachable: false, appliedVersion: 0, appliedLayers: [] };
        } finally {
          client.close();
        }
      }),
    );

  const summary = (row: VersionRow, previous?: VersionRow): VersionSummary => ({
    version: row.version,
    label: row.label ?? '',
    created_at_ms: row.createdAt,
    created_by: row.createdBy,
    command: row.command,
    reason: row.reason ?? '',
    correlation_id: row.correlationId,
    state_json: JSON.stringify(row.state),
    changes: previous
      ? diffStates(previous.state, row.state, members).map((t) => ({
          instance: t.instance,
          subject: t.subject,
          action: t.action,
          from_percentage: t.fromPercentage,
          to_percentage: t.toPercentage,
        }))
      : [],
  });

  const adminHandlers: UntypedServiceImplementation = {
    Mutate: serverStreamHandler<MutationRequest, MutationEvent>(log, 'Mutate', async (request, emit) => {
      const correlationId = callContext.getStore()?.correlation_id ?? newTraceId();
      const result = await manager.mutate(request, correlationId, (e) => {
        if (e.committed) emit({ committed: e.committed });
        if (e.progress) emit({ progress: e.progress });
      });
      emit({ result });
    }),
    CheckHealth: unaryHandler<{ layers: string[] }, HealthReport>(log, 'CheckHealth', async (request) => {
      const unknown = request.layers.filter((l) => !(layerIds as readonly string[]).includes(l));
      if (unknown.length > 0)
        throw new TriadError(
          'INPUT_INVALID',
          `unknown layer ${unknown.map((u) => `"${u}"`).join(', ')} (layers: ${layerIds.join(', ')}, or all)`,
        );
      const [latest, instances] = await Promise.all([store.latest(pool), instanceViews()]);
      const last = deps.consensus.last();
      return layerHealth({
        config: config.layers,
        minSamples: config.timing.minSamples,
        layers: healthLayers(request.layers),
        desired: { version: latest.version, state: latest.state },
        instances,
        ...(agreed() ? { agreed: agreed() } : {}),
        ...(last
          ? {
              consensus: {
                error: last.error,
                converged: last.converged,
                at: last.started_at_ms,
                unreachable: last.unreachable,
              },
            }
          : {}),
      });
    }),
    History: unaryHandler<{ limit: number }, { versions: VersionSummary[] }>(log, 'History', async (request) => {
      const limit = request.limit === 0 ? 20 : request.limit;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new TriadError('INPUT_INVALID', `--limit must be from 1 to 1000, received ${request.limit}`);
      const rows = await store.history(pool, limit + 1);
      return {
        versions: rows
          .slice(0, limit)
          .map((row, i) => summary(row, rows[i + 1] ?? (row.version === 1 ? store.initial() : undefined))),
      };
    }),
    GetDesiredState: unaryHandler<object, { latest: VersionSummary }>(log, 'GetDesiredState', async () => ({
      latest: summary(await store.latest(pool)),
    })),
    VerifyAudit: unaryHandler<object, VerifyAuditReply>(log, 'VerifyAudit', async () => {
      const result = await verifyAuditChain(pool);
      return result.ok
        ? { ok: true, rows: result.rows, broken_at: 0, reason: '' }
        : { ok: false, rows: 0, broken_at: result.brokenAt, reason: result.reason };
    }),
  };

  const applyHandler = unaryHandler<ApplyRequest, ApplyReply>(log, 'Apply', async (request) => {
    if (!Number.isSafeInteger(request.version) || request.version < 0)
      throw new TriadError('INPUT_INVALID', `version must be a whole number ≥ 0, received ${request.version}`);
    return { instance: self, applied_version: await applier.applyAtLeast(request.version) };
  });

  // Storage health is probed, not assumed: a node whose database is gone cannot apply or change desired state.
  let probe: NodeJS.Timeout | undefined;
  const probeStorage = () =>
    pool.query('SELECT 1').then(
      () => (storageError = undefined),
      (err: unknown) => (storageError = err instanceof TriadError ? err.detail : String(err)),
    );

  return {
    adminHandlers,
    applyHandler,
    manager,
    applier,
    leader,
    readinessCheck: (): CheckResult =>
      storageError ? { ok: false, reason: `storage: ${storageError}` } : { ok: true },
    /** Every epoch outcome: feeds the hysteresis bands, and the initiator records it (once per epoch, cluster-wide). */
    onOutcome(outcome: EpochOutcome) {
      // A leader just elected (a cluster starting, or a failover) sees peers it has not heard from yet as unreachable:
      // give heartbeats one timeout to settle before its epochs may roll anything back.
      const settled = leaderSince !== undefined && clock.now() - leaderSince >= config.cluster.heartbeat.timeoutMs;
      if (leader.isLeader && settled) autoRollback.evaluate(outcome);
      const figures = figuresOf(outcome);
      for (const layer of config.layers.layers) {
        const f = figures?.layers[layer.id];
        if (layer.amplification && f?.amplification !== undefined && f.settled && f.samples >= config.timing.minSamples)
          bands.update(layer.id, layer.amplification, f.amplification);
      }
      if (outcome.initiator === self) journal.record(measurementRow(outcome));
    },
    state: (): Pick<NodeState, 'applied_version' | 'active_layers' | 'leader'> => ({
      applied_version: applier.applied.version,
      active_layers: appliedLayerNames(applier.applied.state, self),
      leader: leader.isLeader,
    }),
    async start() {
      applyMetrics(applier.applied);
      await applier.start();
      leader.start();
      await probeStorage();
      probe = setInterval(() => void probeStorage(), 2_000);
    },
    async stop() {
      if (probe) clearInterval(probe);
      await leader.stop();
      await applier.stop();
      await journal.flush();
      for (const c of peerClients.values()) c.close();
    },
  };
}

function figuresOf(outcome: EpochOutcome | undefined): AgreedFigures | undefined {
  if (!outcome) return undefined;
  const reporting = outcome.members.filter((m) => m.reachable).length;
  return {
    at: outcome.started_at_ms,
    error: outcome.error,
    layers: agreedLayerView(outcome.agreed, Math.max(1, reporting)),
    instances: Object.fromEntries(
      outcome.members.filter((m) => m.reachable).map((m) => [m.member, instanceLayerFigures(m.snapshot)]),
    ),
  };
}

function measurementRow(outcome: EpochOutcome): ConsensusMeasurementRow {
  return {
    epoch_id: outcome.epoch_id,
    topology: outcome.topology,
    members: outcome.members.map((m) => m.member),
    unreachable: outcome.unreachable,
    error: outcome.error,
    converged: outcome.converged,
    rounds: outcome.rounds,
    duration_ms: outcome.time_seconds * 1000,
    lambda2: outcome.lambda2 > 0 ? outcome.lambda2 : null,
    agreed: Object.fromEntries(outcome.vector_keys.map((k, i) => [k, outcome.agreed[i] ?? 0])),
    measured_at: new Date(outcome.started_at_ms),
  };
}
