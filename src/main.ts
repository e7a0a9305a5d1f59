// Composition root of a node process: reads config once, wires the components, owns process signals.
import { Registry } from 'prom-client';
import { loadConfig, servesHttps, type TriadConfig } from './config/index.js';
import { certificateLayout, readAuditKey } from './certs/index.js';
import { mutualTlsCredentials, plaintextCredentials } from './connections/index.js';
import { topologyLabel } from './consensus/index.js';
import { createOperationSink } from './ingest/index.js';
import { createMetrics } from './metrics/index.js';
import { createNode } from './node/index.js';
import { asTriadError, createLogger, systemClock, TriadError } from './shared/index.js';

export interface RunNodeOptions {
  instance: string;
  configPath?: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** --insecure: plaintext gRPC (refused unless every instance is on loopback). */
  insecure?: boolean;
}

/** Runs one node until SIGTERM/SIGINT (or its supervisor going away); resolves with the exit code. */
export async function runNode(options: RunNodeOptions): Promise<number> {
  const config = loadConfig({
    env: options.env,
    cwd: options.cwd,
    ...(options.configPath ? { configPath: options.configPath } : {}),
    ...(options.insecure ? { insecure: true } : {}),
  });
  const log = createLogger(options.instance, { level: config.env.logLevel });
  if (!config.cluster.instances.some((i) => i.name === options.instance)) {
    const names = config.cluster.instances.map((i) => i.name).join(', ');
    throw new TriadError('USAGE', `unknown instance "${options.instance}" (the cluster config has: ${names})`);
  }
  if (!config.env.databaseUrl) {
    throw new TriadError(
      'STORAGE_UNAVAILABLE',
      'DATABASE_URL is not set: a node keeps desired state and history in PostgreSQL. `triad up` runs a local cluster with an embedded PostgreSQL and sets it for its nodes; to run a node yourself, set DATABASE_URL=postgres://user@host:5432/db',
    );
  }
  // Read before anything starts: a node without its audit key could neither write audit rows nor check versions.
  const auditKey = readAuditKey(config.auditKeyFile);
  const metrics = createMetrics(new Registry(), { layers: config.layers, topology: topologyLabel(config.cluster) });
  // Mutual TLS with this instance's certificate (re-read when rotated), or plaintext where config allowed it.
  const certs = certificateLayout(config.certsDir);
  const tls = config.cluster.tls;
  const mutual = tls.enabled
    ? mutualTlsCredentials({ ca: certs.caCert, ...certs.node(options.instance) }, tls.reloadIntervalMs)
    : undefined;
  const credentials = mutual ?? plaintextCredentials();
  const node = createNode({
    config,
    instance: options.instance,
    clock: systemClock,
    log,
    metrics,
    databaseUrl: config.env.databaseUrl,
    credentials,
    auditKey,
    trust: tls.enabled ? { caFile: certs.caCert, cluster: config.cluster.name } : 'plaintext-loopback',
    ...(mutual && servesHttps(config.cluster, hostOf(config, options.instance))
      ? { httpsCertificates: mutual.certificates }
      : {}),
    console: { certsDir: config.certsDir },
    // One sink for the synthetic pack and for ingest: one bound, one queue-depth gauge, one writer.
    createSink: (pool) =>
      createOperationSink({
        pool,
        clock: systemClock,
        log: log.child({ component: 'ingest' }),
        capacity: config.cluster.ingest.queueCapacity,
        onDepthChange: (depth) => metrics.runtime.queueDepth.set(depth),
      }),
  });
  try {
    await node.start();
  } catch (err) {
    const error = asTriadError(err);
    log.fatal({ err: error, operation: 'node_start' }, 'node failed to start');
    log.flush();
    throw error;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (why: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ operation: 'node_stop', signal: why }, 'shutting down');
      // Graceful first; if draining hangs past 10 s the timer ends the process anyway (exit 1: it did not drain).
      const force = setTimeout(() => {
        log.error({ operation: 'node_stop' }, 'drain timed out; exiting');
        log.flush();
        process.exit(1);
      }, 10_000);
      node
        .stop(8_000)
        .catch((err: unknown) => log.error({ err, operation: 'node_stop' }, 'error while stopping'))
        .finally(() => {
          clearTimeout(force);
          log.flush();
          resolve(0);
        });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    // Under `triad up` the node holds an IPC channel to its supervisor: if the supervisor dies (even by SIGKILL),
    // the channel closes and the node stops instead of lingering as an orphan.
    // The channel is unref'd: it must not keep a stopped node alive, only tell it when the supervisor is gone.
    if (process.send) {
      process.once('disconnect', () => shutdown('supervisor gone'));
      process.channel?.unref();
    }
  });
}

function hostOf(config: TriadConfig, instance: string): string {
  return config.cluster.instances.find((i) => i.name === instance)?.host ?? '127.0.0.1';
}
