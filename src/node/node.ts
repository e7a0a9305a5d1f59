import type { Server as HttpServer } from 'node:http';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { InstanceAddress, TriadConfig } from '../config/index.js';
import { Readiness, type ReadinessReport } from '../health/index.js';
import type { TriadMetrics } from '../metrics/index.js';
import { unaryHandler, type HeartbeatReply, type HeartbeatRequest, type NodeState } from '../protocol/index.js';
import { TriadError, triadVersion, type Clock, type Logger } from '../shared/index.js';
import { createConsensusEdge } from './consensus-edge.js';
import { createLayerEdge } from './layer-edge.js';
import { createRuntimeEdge } from './runtime-edge.js';
import { createLiveState, type LiveState } from '../live-state/index.js';
import { createIngestHandler, ingestRules } from '../ingest/index.js';
import type { OperationSink } from '../runtime/index.js';
import { createPool } from '../storage/index.js';
import { bindGrpc, createGrpcServer, shutdownGrpc, type GrpcEndpoint } from './grpc-server.js';
import { createHttpServer, listenHttp } from './http-server.js';
import { PeerSet } from './peers.js';

export interface NodeDeps {
  config: TriadConfig;
  instance: string;
  clock: Clock;
  log: Logger;
  metrics: TriadMetrics;
  databaseUrl: string;
  /** Makes operations durable; built by the composition root around this node's pool. */
  createSink: (
    pool: import('pg').Pool,
  ) => OperationSink & { stop(options?: { deadlineMs?: number }): Promise<unknown> };
}

export interface TriadNode {
  readonly self: InstanceAddress;
  start(): Promise<void>;
  /** Graceful: stops accepting work, lets in-flight calls finish (forced after `forceAfterMs`), closes peers. */
  stop(forceAfterMs?: number): Promise<void>;
}

export function createNode(deps: NodeDeps): TriadNode {
  const { config, clock, log, metrics } = deps;
  const self = config.cluster.instances.find((i) => i.name === deps.instance);
  if (!self) {
    const names = config.cluster.instances.map((i) => i.name).join(', ');
    throw new TriadError('USAGE', `unknown instance "${deps.instance}" (the cluster config has: ${names})`);
  }
  const startedAt = clock.now();
  const readiness = new Readiness();
  const peers = new PeerSet({
    self: self.name,
    peers: config.cluster.instances.filter((i) => i.name !== self.name),
    heartbeat: config.cluster.heartbeat,
    clock,
    log,
    metrics: metrics.node,
    startedAt,
    onTransition: () => consensus.coordinator.kick(),
  });
  readiness.register('peers', peers.readinessCheck);
  const pool = createPool(deps.databaseUrl, { applicationName: `triad-${self.name}`, log });
  const liveState: LiveState = createLiveState({
    ...(config.env.redisUrl ? { redisUrl: config.env.redisUrl } : {}),
    keyPrefix: `${config.cluster.redisKeyPrefix}${config.cluster.name}:`,
    clock,
    log,
  });
  const sink = deps.createSink(pool);
  const consensus = createConsensusEdge({
    config,
    self: self.name,
    clock,
    log,
    metrics: metrics.consensus,
    measure: () => runtime.measure(),
    isReachable: (member) => peers.isReachable(member),
    // The leader starts the interval epochs; every outcome also feeds the layer manager (bands, measurements).
    isLeader: () => layers.leader.isLeader,
    onOutcome: (outcome) => {
      layers.onOutcome(outcome);
      void liveState
        .putConsensusState(self.name, {
          epoch_id: outcome.epoch_id,
          error: outcome.error,
          converged: outcome.converged,
          at: outcome.started_at_ms,
        })
        .catch(() => undefined);
    },
  });
  readiness.register('consensus', consensus.readinessCheck);
  const layers = createLayerEdge({
    config,
    databaseUrl: deps.databaseUrl,
    pool,
    onApplied: (row) => runtime.apply(row.state),
    self: self.name,
    clock,
    log,
    metrics: metrics.layers,
    consensus: consensus.coordinator,
    isReachable: (member) => peers.isReachable(member),
    rttMs: (member) => peers.rttMs(member),
  });
  readiness.register('storage', layers.readinessCheck);
  const runtime = createRuntimeEdge({
    config,
    self: self.name,
    clock,
    log,
    metrics: metrics.runtime,
    pool,
    sink,
    liveState,
    isLeader: () => layers.leader.isLeader,
    lastOutcome: () => consensus.coordinator.last(),
  });

  const uptimeSeconds = () => (clock.now() - startedAt) / 1000;
  const state = (includeFigures: boolean): NodeState => {
    const report = evaluate();
    return {
      instance: self.name,
      version: triadVersion,
      uptime_seconds: uptimeSeconds(),
      started_at_ms: startedAt,
      peers: peers.view(),
      ...layers.state(),
      ...(includeFigures ? runtime.figures() : { local_layers: [], agreed_layers: [] }),
      ready: report.ready,
      not_ready_reasons: report.reasons,
      topology: config.cluster.topology,
      http_address: `${self.host}:${self.httpPort}`,
      cluster_name: config.cluster.name,
      consensus: consensus.view(),
    };
  };

  const grpc: GrpcEndpoint = createGrpcServer({
    Node: {
      GetState: unaryHandler<{ include_figures: boolean }, NodeState>(log, 'GetState', (req) =>
        state(req.include_figures),
      ),
      Heartbeat: unaryHandler<HeartbeatRequest, HeartbeatReply>(
        log,
        'Heartbeat',
        (_req: HeartbeatRequest, _call: ServerUnaryCall<HeartbeatRequest, HeartbeatReply>) => ({
          instance: self.name,
          uptime_seconds: uptimeSeconds(),
          ready: evaluate().ready,
        }),
      ),
    },
    Peer: { ...consensus.peerService, Apply: layers.applyHandler },
    Admin: { ...consensus.adminHandlers, ...layers.adminHandlers, ...runtime.adminHandlers },
    Ingest: {
      RecordOperations: createIngestHandler({
        sink,
        rules: ingestRules(
          config.layers,
          config.cluster.instances.map((i) => i.name),
        ),
        rateLimiter: liveState,
        rateLimit: { capacity: config.cluster.ingest.burst, refillPerSecond: config.cluster.ingest.rateLimitPerSecond },
        clock,
        log,
        onRecorded: (records) => runtime.runtime.recordIngested(records),
        cohortOf: (layer, instance) => (instance === self.name ? runtime.cohortOf(layer) : null),
      }),
    },
  });

  /**
   * Every evaluation also publishes: /ready, GetState and the gRPC health service then never disagree, and the
   * heartbeat tick re-evaluates so a verdict that changes with time alone (a peer timing out) is published too.
   */
  const evaluate = (): ReadinessReport => {
    const report = readiness.evaluate();
    grpc.setServing(report.ready);
    metrics.node.ready.set(report.ready ? 1 : 0);
    return report;
  };

  let http: HttpServer | undefined;

  return {
    self,
    async start() {
      metrics.node.nodeInfo.set({ version: triadVersion, cluster: config.cluster.name }, 1);
      // Desired state first: a node that restarts mid-rollout must serve the latest version from its first answer.
      await layers.start();
      await runtime.start();
      await bindGrpc(grpc.server, self.host, self.grpcPort, self.name);
      http = createHttpServer({
        instance: self.name,
        metrics: metrics.node,
        readiness: evaluate,
        beforeScrape: () => {
          peers.refreshMetrics();
          runtime.runtime.refreshMetrics();
        },
        log,
      });
      try {
        await listenHttp(http, self.host, self.httpPort, self.name);
      } catch (err) {
        grpc.server.forceShutdown();
        throw err;
      }
      readiness.markStarted();
      peers.start(() => {
        const { ready, reasons } = evaluate();
        // Live health for dashboards and other nodes; it expires by itself if this node stops refreshing it.
        void liveState
          .putHealth(self.name, { ready, reasons }, 3 * config.cluster.heartbeat.intervalMs)
          .catch(() => undefined);
      });
      consensus.start();
      log.info(
        {
          operation: 'node_start',
          grpc: `${self.host}:${self.grpcPort}`,
          http: `${self.host}:${self.httpPort}`,
          peers: peers.names,
          version: triadVersion,
        },
        'node started',
      );
    },
    async stop(forceAfterMs = 10_000) {
      log.info({ operation: 'node_stop' }, 'node stopping');
      // Published through evaluate(), not set once: every later evaluation (a heartbeat tick, a probe) must agree.
      readiness.markStopping();
      evaluate();
      await consensus.stop();
      await peers.stop();
      // No new synthetic operations; then let in-flight calls (an ingest waiting for its commit) finish while the sink
      // drains what it holds. Storage goes last: everything above still writes to it.
      await runtime.stop();
      await Promise.all([
        shutdownGrpc(grpc.server, forceAfterMs),
        sink.stop({ deadlineMs: Math.max(1_000, forceAfterMs - 2_000) }),
      ]);
      await layers.stop();
      await liveState.close();
      await pool.end();
      if (http) {
        const server = http;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
      }
      log.info({ operation: 'node_stop', uptime_seconds: uptimeSeconds() }, 'node stopped');
    },
  };
}
