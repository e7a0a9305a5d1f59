import type { Server as HttpServer } from 'node:http';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { InstanceAddress, TriadConfig } from '../config/index.js';
import { Readiness, type ReadinessReport } from '../health/index.js';
import type { TriadMetrics } from '../metrics/index.js';
import {
  unaryHandler,
  type Empty,
  type HeartbeatReply,
  type HeartbeatRequest,
  type NodeState,
} from '../protocol/index.js';
import { TriadError, triadVersion, type Clock, type Logger } from '../shared/index.js';
import { createConsensusEdge } from './consensus-edge.js';
import { createLayerEdge } from './layer-edge.js';
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
  const consensus = createConsensusEdge({
    config,
    self: self.name,
    clock,
    log,
    metrics: metrics.consensus,
    isReachable: (member) => peers.isReachable(member),
    // The leader starts the interval epochs; every outcome also feeds the layer manager (bands, measurements).
    isLeader: () => layers.leader.isLeader,
    onOutcome: (outcome) => layers.onOutcome(outcome),
  });
  readiness.register('consensus', consensus.readinessCheck);
  const layers = createLayerEdge({
    config,
    databaseUrl: deps.databaseUrl,
    self: self.name,
    clock,
    log,
    metrics: metrics.layers,
    consensus: consensus.coordinator,
    isReachable: (member) => peers.isReachable(member),
    rttMs: (member) => peers.rttMs(member),
  });
  readiness.register('storage', layers.readinessCheck);

  const uptimeSeconds = () => (clock.now() - startedAt) / 1000;
  const state = (): NodeState => {
    const report = evaluate();
    return {
      instance: self.name,
      version: triadVersion,
      uptime_seconds: uptimeSeconds(),
      started_at_ms: startedAt,
      peers: peers.view(),
      ...layers.state(),
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
      GetState: unaryHandler<Empty, NodeState>(log, 'GetState', () => state()),
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
    Admin: { ...consensus.adminHandlers, ...layers.adminHandlers },
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
      await bindGrpc(grpc.server, self.host, self.grpcPort, self.name);
      http = createHttpServer({
        instance: self.name,
        metrics: metrics.node,
        readiness: evaluate,
        beforeScrape: () => peers.refreshMetrics(),
        log,
      });
      try {
        await listenHttp(http, self.host, self.httpPort, self.name);
      } catch (err) {
        grpc.server.forceShutdown();
        throw err;
      }
      readiness.markStarted();
      peers.start(() => void evaluate());
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
      grpc.setServing(false);
      await consensus.stop();
      await peers.stop();
      await layers.stop();
      await shutdownGrpc(grpc.server, forceAfterMs);
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
