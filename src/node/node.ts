// A node's wiring: components built in dependency order, then connected where information flows back (outcomes to
// the layer manager, leadership and peer changes to consensus), then the edges that expose them. No logic of its own.
import type { Server as HttpServer } from 'node:http';
import { createCanaryJudge } from '../canary/index.js';
import type { InstanceAddress, TriadConfig } from '../config/index.js';
import {
  createConnections,
  createNodeCalls,
  createPeerLinks,
  type TransportCredentials,
} from '../connections/index.js';
import { consoleBaseUrl, createConsole, type NodeConsole } from '../console/index.js';
import { createConsensus, graphFromTopology } from '../consensus/index.js';
import {
  addHealthService,
  adminService,
  boundedDeserializer,
  createAuthorizer,
  createBoundsInterceptor,
  maxMessageBytes,
  createHttpServer,
  ingestService,
  listenHttp,
  rolloutsService,
  nodeService,
  peerService,
  shutdownGrpc,
} from '../edges/index.js';
import { Readiness, type ReadinessReport } from '../health/index.js';
import { createRecorder, ingestRules } from '../ingest/index.js';
import { appliedLayersOf, createDesiredStateStore, createLayers, LeaderElection } from '../layer-manager/index.js';
import { createLiveState } from '../live-state/index.js';
import { PeerSet } from '../membership/index.js';
import { retentionPolicy, startRetention } from '../operations/index.js';
import type { TriadMetrics } from '../metrics/index.js';
import { createExecutor, createRollouts, createWebhookSender, runWhileLeader, type Plan } from '../rollouts/index.js';
import { createNodeRuntime, type OperationSink } from '../runtime/index.js';
import { TriadError, triadVersion, type Clock, type Logger } from '../shared/index.js';
import {
  alertHistoryStore,
  createPool,
  createRolloutStore,
  type AuditKey,
  type StoragePool,
} from '../storage/index.js';

export interface NodeDeps {
  config: TriadConfig;
  instance: string;
  clock: Clock;
  log: Logger;
  metrics: TriadMetrics;
  databaseUrl: string;
  credentials: TransportCredentials;
  /** The audit chain's HMAC key (read by the composition root from config's audit.key_file). */
  auditKey: AuditKey;
  /** How callers are authenticated: the cluster CA and name (mutual TLS), or none (plaintext, loopback only). */
  trust: { caFile: string; cluster: string } | 'plaintext-loopback';
  /** The node's certificate for HTTPS on /metrics, /health, /ready; absent serves plain HTTP (loopback only). */
  httpsCertificates?: {
    current: () => { ca: Buffer; cert: Buffer; key: Buffer };
    onChange: (listener: () => void) => void;
  };
  /** The browser console at /console (docs/console.md): its signing key lives in `certsDir`. Absent: no console. */
  console?: { certsDir: string; assetsDir?: string };
  /** Makes operations durable; built by the composition root around this node's pool. */
  createSink: (pool: StoragePool) => OperationSink & { stop(options?: { deadlineMs?: number }): Promise<unknown> };
  /** Where rollout webhooks' HMAC keys are read from (a plan names the variable); the process environment if absent. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface TriadNode {
  readonly self: InstanceAddress;
  start(): Promise<void>;
  /** Graceful: stops accepting work, lets in-flight calls finish (forced after `forceAfterMs`), closes peers. */
  stop(forceAfterMs?: number): Promise<void>;
}

export function createNode(deps: NodeDeps): TriadNode {
  const { config, clock, log, metrics } = deps;
  const { cluster, timing } = config;
  const self = cluster.instances.find((i) => i.name === deps.instance);
  if (!self) {
    const names = cluster.instances.map((i) => i.name).join(', ');
    throw new TriadError('USAGE', `unknown instance "${deps.instance}" (the cluster config has: ${names})`);
  }
  const startedAt = clock.now();
  const members = cluster.instances.map((i) => i.name);
  const addresses = new Map(cluster.instances.map((i) => [i.name, `${i.host}:${i.grpcPort}`]));
  const peerAddresses = new Map([...addresses].filter(([name]) => name !== self.name));

  // Outgoing connections and storage: everything below talks through these.
  const connections = createConnections(deps.credentials);
  const calls = createNodeCalls({ connections, self: self.name, addresses, clock });
  const links = createPeerLinks(connections, peerAddresses, log);
  const pool = createPool(deps.databaseUrl, { applicationName: `triad-${self.name}`, log });
  const liveState = createLiveState({
    ...(config.env.redisUrl ? { redisUrl: config.env.redisUrl } : {}),
    ...(config.env.redisCa ? { tlsCa: config.env.redisCa } : {}),
    keyPrefix: `${cluster.redisKeyPrefix}${cluster.name}:`,
    clock,
    log,
  });
  const sink = deps.createSink(pool);

  // The components, each given only what it uses.
  const election = new LeaderElection({ databaseUrl: deps.databaseUrl, self: self.name, clock, log });
  const peers = new PeerSet({
    peers: cluster.instances.filter((i) => i.name !== self.name),
    heartbeat: cluster.heartbeat,
    clock,
    log,
    metrics: metrics.node,
    startedAt,
    ping: (peer, deadlineMs) => calls.heartbeat(peer, deadlineMs),
  });
  const runtime = createNodeRuntime({
    self: self.name,
    layers: config.layers,
    synthetic: cluster.synthetic,
    timing,
    compressed: config.env.profile === 'demo',
    pool,
    auditKey: deps.auditKey,
    sink,
    liveState,
    metrics: metrics.runtime,
    clock,
    log,
    isLeader: () => election.isLeader,
    runR6OnLeader: () => calls.runR6OnLeader(),
    setFaultOn: (instance, change) => calls.setFaultOn(instance, change),
  });
  const consensus = createConsensus({
    self: self.name,
    cluster,
    epochIntervalMs: timing.epochIntervalMs,
    transport: links,
    measure: () => runtime.measure(),
    isReachable: (member) => peers.isReachable(member),
    isLeader: () => election.isLeader,
    clock,
    log,
    metrics: metrics.consensus,
    testHooks: config.env.testHooks,
    onRejected: (reason) => metrics.node.peerMessagesRejected.inc({ reason }),
  });
  const layers = createLayers({
    self: self.name,
    members,
    layers: config.layers,
    timing,
    heartbeatTimeoutMs: cluster.heartbeat.timeoutMs,
    databaseUrl: deps.databaseUrl,
    pool,
    auditKey: deps.auditKey,
    election,
    clock,
    log,
    metrics: metrics.layers,
    lastOutcome: () => consensus.last(),
    reachable: (member) => peers.isReachable(member),
    rttMs: (member) => peers.rttMs(member),
    pushApply: (instance, version, deadlineMs) => calls.pushApply(instance, version, deadlineMs),
    instanceView: (instance) => calls.instanceView(instance),
    onApplied: (row) => {
      runtime.apply(appliedLayersOf(row.state, self.name));
      nodeConsole?.publish({ type: 'version', version: row.version });
    },
  });
  // Rollout plans: commands on any node, the executor on the leader (the same mutate() as operators).
  const rolloutStore = createRolloutStore<Plan>((raw) => raw as Plan);
  const versions = createDesiredStateStore(members);
  const rollouts = createRollouts({
    pool,
    store: rolloutStore,
    versions,
    layers: config.layers,
    timing,
    members,
    auditKey: deps.auditKey,
    clock,
    log,
  });
  const rolloutRunner = runWhileLeader({
    executor: createExecutor({
      pool,
      store: rolloutStore,
      versions,
      mutate: (mutation, options) => layers.mutate(mutation, options),
      agreed: () => layers.agreed(),
      timing,
      members,
      clock,
      log,
    }),
    isLeader: () => election.isLeader,
    clock,
    log,
    intervalMs: Math.max(250, Math.min(5_000, timing.epochIntervalMs)),
  });
  // Run-event webhooks: their own loop, so a slow receiver never holds up the executor.
  const webhookRunner = runWhileLeader({
    executor: createWebhookSender({
      pool,
      store: rolloutStore,
      clock,
      log,
      env: deps.env ?? process.env,
      baseDelayMs: Math.max(250, timing.duration(30_000)),
      maxDelayMs: Math.max(1_000, timing.duration(3_600_000)),
    }),
    isLeader: () => election.isLeader,
    clock,
    log,
    intervalMs: 250,
  });
  const record = createRecorder({
    sink,
    rules: ingestRules(config.layers, members, {}, self.name),
    rateLimiter: liveState,
    rateLimit: { capacity: cluster.ingest.burst, refillPerSecond: cluster.ingest.rateLimitPerSecond },
    clientRateLimit: { capacity: cluster.ingest.burst, refillPerSecond: cluster.ingest.clientRateLimitPerSecond },
    clock,
    log,
    onRecorded: (records) => runtime.recordIngested(records),
    cohortOf: (layer, instance) => (instance === self.name ? runtime.cohortOf(layer) : null),
  });

  // Where information flows back: every outcome feeds the layer manager and live state; a new leader, or a member
  // coming or going, makes consensus measure now rather than an interval later.
  consensus.onOutcome((outcome) => layers.onOutcome(outcome));
  consensus.onOutcome((outcome) => {
    void liveState
      .putConsensusState(self.name, {
        epoch_id: outcome.epochId,
        error: outcome.error,
        converged: outcome.converged,
        at: outcome.startedAtMs,
      })
      .catch(() => undefined);
  });
  election.onChange((leading) => {
    if (leading) consensus.kick();
  });
  peers.onTransition(() => consensus.kick());

  // The browser console: same domain calls as the Admin service, its sessions minted through Admin/ConsoleLogin.
  const nodeConsole: NodeConsole | undefined = deps.console
    ? createConsole({
        instance: self.name,
        members,
        layersConfig: config.layers,
        topology: { label: consensus.topology, edges: topologyEdges(cluster) },
        layers,
        lastOutcome: () => consensus.last(),
        figures: (outcome) => runtime.figures(outcome),
        readiness: () => evaluate(),
        instanceView: (instance) =>
          instance === self.name
            ? Promise.resolve({
                instance,
                reachable: true,
                appliedVersion: layers.state().appliedVersion,
                appliedLayers: layers.state().activeLayers,
              })
            : calls.instanceView(instance),
        recentAlerts: (limit) => alertHistoryStore.recent(pool, limit),
        rollouts,
        clock,
        log,
        certsDir: deps.console.certsDir,
        baseUrl: consoleBaseUrl(self.host, self.httpPort, deps.httpsCertificates !== undefined),
        ...(deps.console.assetsDir ? { assetsDir: deps.console.assetsDir } : {}),
      })
    : undefined;
  if (nodeConsole) consensus.onOutcome((outcome) => nodeConsole.onOutcome(outcome));

  const readiness = new Readiness();
  readiness.register('peers', peers.readinessCheck);
  readiness.register('consensus', () => consensus.readinessCheck());
  readiness.register('storage', () => layers.readinessCheck());

  // The edges, every call authenticated and authorised before its handler runs.
  const authorizer = createAuthorizer({
    trust: deps.trust,
    clock,
    log,
    onRefused: (reason) => metrics.node.callsRefused.inc({ reason }),
  });
  const server = connections.server(
    {},
    {
      // Who may call first, then what they may send: an unauthenticated caller learns nothing about the bounds.
      interceptors: [
        authorizer.interceptor,
        createBoundsInterceptor({
          onRefused: (_method, code) =>
            metrics.node.callsRefused.inc({
              reason: code === 'RESOURCE_EXHAUSTED' ? 'resource_exhausted' : 'input_invalid',
            }),
        }),
      ],
      bounds: {
        maxMessageBytes,
        deserializer: boundedDeserializer,
        onConnectionRefused: (reason) => metrics.node.connectionsRefused.inc({ reason }),
      },
    },
  );
  const health = addHealthService(server);
  /**
   * Every evaluation also publishes: /ready, GetState and the gRPC health service then never disagree, and the
   * heartbeat tick re-evaluates so a verdict that changes with time alone (a peer timing out) is published too.
   */
  const evaluate = (): ReadinessReport => {
    const report = readiness.evaluate();
    health.setServing(report.ready);
    metrics.node.ready.set(report.ready ? 1 : 0);
    return report;
  };
  const uptimeSeconds = () => (clock.now() - startedAt) / 1000;
  const peerEdge = peerService({
    self: self.name,
    members: new Set(members),
    log,
    onRejected: (reason) => metrics.node.peerMessagesRejected.inc({ reason }),
    deliver: (message) => consensus.deliver(message),
    applyAtLeast: (version) => layers.applyAtLeast(version),
  });
  connections.addServices(server, {
    Node: nodeService({
      log,
      describe: (includeFigures) => {
        const last = consensus.last();
        return {
          instance: self.name,
          version: triadVersion,
          uptimeSeconds: uptimeSeconds(),
          startedAtMs: startedAt,
          peers: peers.view(),
          layers: layers.state(),
          ...(includeFigures ? { figures: runtime.figures(last) } : {}),
          readiness: evaluate(),
          topology: cluster.topology,
          topologyLabel: consensus.topology,
          httpAddress: `${self.host}:${self.httpPort}`,
          clusterName: cluster.name,
          consensus: last,
        };
      },
      heartbeat: () => ({ instance: self.name, uptimeSeconds: uptimeSeconds(), ready: evaluate().ready }),
    }),
    Peer: peerEdge.service,
    Admin: adminService({
      log,
      layers,
      consensus,
      runtime,
      members,
      ...(nodeConsole ? { consoleLogin: nodeConsole.login } : {}),
      canary: createCanaryJudge({ pool, clock, instances: members }),
    }),
    Ingest: ingestService({ log, record }),
    Rollouts: rolloutsService({ log, rollouts }),
  });
  let http: HttpServer | undefined;
  let retention: { stop(): Promise<void> } | undefined;

  return {
    self,
    async start() {
      metrics.node.nodeInfo.set({ version: triadVersion, cluster: cluster.name }, 1);
      // Desired state first: a node that restarts mid-rollout must serve the latest version from its first answer.
      await layers.start();
      await runtime.start();
      await connections.listen(server, self.host, self.grpcPort, self.name);
      const https = deps.httpsCertificates;
      http = createHttpServer({
        instance: self.name,
        metrics: metrics.node,
        readiness: evaluate,
        beforeScrape: () => {
          peers.refreshMetrics();
          runtime.refreshMetrics();
        },
        log,
        // Bound calls, not a spread: the certificates are a class instance whose methods a spread would drop.
        ...(https
          ? {
              tls: {
                current: () => https.current(),
                onChange: (listener: () => void) => https.onChange(listener),
                requireClientCertificate: cluster.http.clientCertificates,
              },
            }
          : {}),
        ...(nodeConsole ? { console: nodeConsole.handle } : {}),
      });
      try {
        await listenHttp(http, self.host, self.httpPort, self.name);
      } catch (err) {
        server.forceShutdown();
        throw err;
      }
      readiness.markStarted();
      peers.start(() => {
        const { ready, reasons } = evaluate();
        // Live health for dashboards and other nodes; it expires by itself if this node stops refreshing it.
        void liveState
          .putHealth(self.name, { ready, reasons }, 3 * cluster.heartbeat.intervalMs)
          .catch(() => undefined);
      });
      consensus.start();
      rolloutRunner.start();
      webhookRunner.start();
      // Day-2 duty of the leader: daily partitions ahead, expired ones dropped (operations/retention.ts).
      retention = startRetention({
        pool,
        clock,
        log,
        self: self.name,
        isLeader: () => election.isLeader,
        policy: retentionPolicy(cluster.retention),
        auditKey: deps.auditKey,
      });
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
      await rolloutRunner.stop();
      await webhookRunner.stop();
      await consensus.stop();
      await retention?.stop();
      links.close();
      peerEdge.closeLinks();
      await peers.stop();
      // No new synthetic operations; then let in-flight calls (an ingest waiting for its commit) finish while the sink
      // drains what it holds. Storage goes last: everything above still writes to it.
      await runtime.stop();
      await Promise.all([
        shutdownGrpc(server, forceAfterMs),
        sink.stop({ deadlineMs: Math.max(1_000, forceAfterMs - 2_000) }),
      ]);
      await layers.stop();
      connections.close();
      deps.credentials.close();
      await liveState.close();
      await pool.end();
      nodeConsole?.close();
      if (http) {
        const httpServer = http;
        await new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeIdleConnections();
        });
      }
      log.info({ operation: 'node_stop', uptime_seconds: uptimeSeconds() }, 'node stopped');
    },
  };
}

/** The configured graph's edges, for the console's topology view; custom edges as written. */
function topologyEdges(cluster: TriadConfig['cluster']): Array<[string, string]> {
  const names = cluster.instances.map((i) => i.name);
  if (cluster.topology === 'custom') return cluster.edges.map((e) => [e[0], e[1]]);
  const spec = cluster.topology === 'complete' ? `K${names.length}` : `${cluster.topology}:${names.length}`;
  const graph = graphFromTopology(spec, names);
  return graph.edges.map((e) => [e[0], e[1]] as [string, string]);
}
