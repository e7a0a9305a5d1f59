// The layer manager as a node runs it: desired state followed and changed, gates, health, leadership duties.
import { layerIds, type LayerId, type LayersConfig, type Timing } from '../config/index.js';
import { agreedLayerView, instanceLayerFigures, type EpochOutcome } from '../consensus/index.js';
import type { CheckResult } from '../health/index.js';
import type { LayerMetrics } from '../metrics/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import {
  appendAudit,
  probe,
  sealLegacyRows,
  verifyAudit,
  withTransaction,
  type AuditEntry,
  type AuditKey,
  type AuditVerification,
  type StoragePool,
} from '../storage/index.js';
import { DesiredStateApplier } from './applier.js';
import { createAutoRollback } from './auto-rollback.js';
import { BandTracker } from './bands.js';
import { diffStates, type Transition } from './desired-state.js';
import type { AgreedFigures } from './gates.js';
import { appliedLayerNames, healthLayers, layerHealth, type HealthReport, type InstanceView } from './health.js';
import type { LeaderElection } from './leader.js';
import { createLeadership } from './leadership.js';
import { createPerformanceReader } from './performance.js';
import { parseMutation, type Mutation, type MutationInput, type MutationOptions } from './mutation-input.js';
import type { MutationProgress, MutationResult } from './mutation-result.js';
import { LayerManager } from './service.js';
import { createDesiredStateStore, type VersionRow } from './state-store.js';

export interface LayersDeps {
  self: string;
  members: readonly string[];
  layers: LayersConfig;
  timing: Timing;
  heartbeatTimeoutMs: number;
  databaseUrl: string;
  pool: StoragePool;
  /** The audit chain's HMAC key: rows are written with it, versions are checked with it before they are applied. */
  auditKey: AuditKey;
  /** Who leads the cluster (created before the components that ask it). */
  election: LeaderElection;
  clock: Clock;
  log: Logger;
  metrics: LayerMetrics;
  /** The last consensus outcome this node knows (its figures feed gates and health). */
  lastOutcome: () => EpochOutcome | undefined;
  reachable: (member: string) => boolean;
  rttMs: (member: string) => number;
  /** Asks another node to apply `version` now; resolves with the version it has applied. */
  pushApply: (instance: string, version: number, deadlineMs: number) => Promise<number>;
  /** What another node has applied, as it answers (reachable: false when it does not). */
  instanceView: (instance: string) => Promise<InstanceView>;
  /** Each newly applied desired-state version (the runtime switches layers with it). */
  onApplied: (row: VersionRow) => void;
}

/** One desired-state version in history, with what it changed against the one before. */
export interface HistoryEntry {
  row: VersionRow;
  changes: Transition[];
}

export type Layers = ReturnType<typeof createLayers>;

/**
 * The layer manager of one node: follows desired state (applier), changes it (mutate, through gates and the cluster
 * lock), judges layer health, and carries the leader's duties. The Admin and Peer edges call this; so do automatic
 * rollback and rollout plans, through the same mutate().
 */
export function createLayers(deps: LayersDeps) {
  const { self, members, clock, log, metrics, pool } = deps;
  const store = createDesiredStateStore(members);
  const bands = new BandTracker();
  let storageError: string | undefined;

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
    auditKey: deps.auditKey,
    onRefused: () => metrics.versionsRefused.inc(),
    onApplied: applyMetrics,
  });
  const agreed = () => agreedFigures(deps.lastOutcome());
  const manager = new LayerManager({
    pool,
    store,
    auditKey: deps.auditKey,
    layers: deps.layers,
    members,
    clock,
    log,
    timing: deps.timing,
    agreed,
    bands,
    reachable: (m) => m === self || deps.reachable(m),
    rttMs: (m) => (m === self ? 0 : deps.rttMs(m)),
    pushApply: (instance, version, deadlineMs) =>
      instance === self ? applier.applyAtLeast(version) : deps.pushApply(instance, version, deadlineMs),
    onRollback: (layer, reason) => metrics.rollbacks.inc({ layer, reason }),
  });
  const leadership = createLeadership({
    self,
    election: deps.election,
    pool,
    clock,
    log,
    heartbeatTimeoutMs: deps.heartbeatTimeoutMs,
    autoRollback: createAutoRollback({
      layers: deps.layers,
      timing: deps.timing,
      manager,
      pool,
      clock,
      log,
      members,
      desired: () => applier.applied.state,
      performance: createPerformanceReader({
        pool,
        instances: members,
        windowMs: deps.timing.windowMs,
        minSamples: deps.timing.minSamples,
      }),
    }),
  });
  deps.election.onChange((leading) => metrics.leader.set(leading ? 1 : 0));
  metrics.leader.set(0);

  const instanceViews = (): Promise<InstanceView[]> =>
    Promise.all(
      members.map((instance) =>
        instance === self
          ? Promise.resolve({
              instance,
              reachable: true,
              appliedVersion: applier.applied.version,
              appliedLayers: appliedLayerNames(applier.applied.state, self),
            })
          : deps.instanceView(instance),
      ),
    );

  // Storage health is probed, not assumed: a node whose database is gone cannot apply or change desired state.
  let prober: NodeJS.Timeout | undefined;
  const probeStorage = () =>
    probe(pool).then(
      () => (storageError = undefined),
      (err: unknown) => (storageError = err instanceof TriadError ? err.detail : String(err)),
    );

  return {
    get isLeader(): boolean {
      return leadership.isLeader;
    },
    /** Checks a change named by an operator or a plan (unknown layers, instances, frameworks are refused here). */
    parse: (input: MutationInput): Mutation => parseMutation(input, { config: deps.layers, instances: members }),
    mutate: (mutation: Mutation, options: MutationOptions & MutationProgress): Promise<MutationResult> =>
      manager.mutate(mutation, options),
    async checkHealth(requested: readonly LayerId[]): Promise<HealthReport> {
      const [latest, instances] = await Promise.all([store.latest(pool), instanceViews()]);
      const last = deps.lastOutcome();
      const figures = agreed();
      return layerHealth({
        config: deps.layers,
        minSamples: deps.timing.minSamples,
        layers: healthLayers(requested),
        desired: { version: latest.version, state: latest.state },
        instances,
        ...(figures ? { agreed: figures } : {}),
        ...(last ? { consensus: { error: last.error, converged: last.converged, at: last.startedAtMs } } : {}),
      });
    },
    /** The newest `limit` versions, newest first, each with what it changed. */
    async history(limit: number): Promise<HistoryEntry[]> {
      const rows = await store.history(pool, limit + 1);
      return rows.slice(0, limit).map((row, i) => {
        const previous = rows[i + 1] ?? (row.version === 1 ? store.initial() : undefined);
        return { row, changes: previous ? diffStates(previous.state, row.state, members) : [] };
      });
    },
    latest: (): Promise<VersionRow> => store.latest(pool),
    /** The figures gates judge by (the last epoch's agreed view): rollout analysis reads the same ones. */
    agreed: (): AgreedFigures | undefined => agreed(),
    /** The node's own check of the chain (Admin.VerifyAudit); `triad audit verify` does not rely on it. */
    verifyAudit: (): Promise<AuditVerification> => verifyAudit(pool, deps.auditKey),
    /**
     * Audits an admin action that is not a desired-state change (an R6 run, a forced sync) before it takes effect: the
     * caller acts only once this resolves, so an action whose row could not be written does not happen.
     */
    async audit(entry: AuditEntry): Promise<void> {
      await withTransaction(pool, (client) => appendAudit(client, deps.auditKey, entry));
    },
    /** A peer's push (Peer.Apply): apply `version` or newer now; resolves with what is applied afterwards. */
    applyAtLeast: (version: number): Promise<number> => applier.applyAtLeast(version),
    state: () => ({
      appliedVersion: applier.applied.version,
      activeLayers: appliedLayerNames(applier.applied.state, self),
      leader: leadership.isLeader,
    }),
    readinessCheck: (): CheckResult => {
      if (storageError) return { ok: false, reason: `storage: ${storageError}` };
      const refused = applier.refused;
      if (refused) return { ok: false, reason: `desired state: version ${refused.version} refused: ${refused.reason}` };
      return { ok: true };
    },
    /** Every epoch outcome: feeds the hysteresis bands, and the leader's duties. */
    onOutcome(outcome: EpochOutcome): void {
      leadership.onOutcome(outcome);
      const figures = agreedFigures(outcome);
      for (const layer of deps.layers.layers) {
        const f = figures?.layers[layer.id];
        if (layer.amplification && f?.amplification !== undefined && f.settled && f.samples >= deps.timing.minSamples)
          bands.update(layer.id, layer.amplification, f.amplification);
      }
    },
    async start(): Promise<void> {
      applyMetrics(applier.applied);
      // A database from before the audit key: seal its unkeyed rows and versions before anything is applied from it.
      const sealed = await sealLegacyRows(pool, deps.auditKey);
      if (sealed > 0)
        log.info({ operation: 'audit_seal', rows: sealed }, 'sealed audit rows from before the audit key');
      await applier.start();
      leadership.start();
      await probeStorage();
      prober = setInterval(() => void probeStorage(), 2_000);
    },
    async stop(): Promise<void> {
      if (prober) clearInterval(prober);
      await leadership.stop();
      await applier.stop();
    },
  };
}

/** The figures gates and health judge by: the cluster's agreed view, and each reachable member's own snapshot. */
function agreedFigures(outcome: EpochOutcome | undefined): AgreedFigures | undefined {
  if (!outcome) return undefined;
  const reachable = outcome.members.filter((m) => m.reachable);
  return {
    at: outcome.startedAtMs,
    error: outcome.error,
    layers: agreedLayerView(outcome.agreed, Math.max(1, reachable.length)),
    instances: Object.fromEntries(reachable.map((m) => [m.member, instanceLayerFigures(m.snapshot)])),
  };
}
