import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Socket } from 'node:net';
import path from 'node:path';
import { auditKeyFileName, ensureAuditKey, ensureLocalCertificates } from '../../src/certs/index.js';
import { repoRoot, triadBin } from '../fixtures/cluster.js';
import { registerCertificates } from '../fixtures/grpc.js';
import { createTestDatabase, testDatabaseUrl, withDatabase, type TestDatabase } from '../fixtures/postgres.js';
import { bridgeAddress, FaultNetwork } from './network.js';
import { startServiceProxy, type ServiceProxy } from './proxy.js';

export const grpcPort = 7443;
export const httpPort = 9464;
/**
 * Timing of a fault cluster: short, so a scenario sees several epochs and heartbeat timeouts in well under a minute.
 * 800 ms of heartbeat timeout flapped with five nodes and the workload on two shared cores (a starved event loop is
 * not a partition); 1.5 s did not.
 */
export const timing = { heartbeatMs: 250, heartbeatTimeoutMs: 1_500, epochIntervalMs: 1_000 };

export interface NodeLife {
  name: string;
  event: 'start' | 'kill' | 'stop' | 'cont' | 'exit';
  /** For 'exit': how it ended (a code, or the signal). */
  how?: string;
  atMs: number;
}

/**
 * A triad cluster with mutual TLS whose nodes each run in a namespace of their own (see network.ts), with a private
 * redis-server and a PostgreSQL proxy per node on the bridge. Processes are tracked by PID; stop() ends them all.
 */
export class FaultCluster {
  readonly processes = new Map<string, ChildProcess>();
  readonly lives: NodeLife[] = [];
  readonly pgProxies = new Map<string, ServiceProxy>();
  redisProxy?: ServiceProxy;
  private redis?: ChildProcess;
  readonly redisPort: number;

  private constructor(
    readonly net: FaultNetwork,
    readonly dir: string,
    readonly clusterFile: string,
    readonly database: TestDatabase,
    private readonly env: Record<string, string> = {},
  ) {
    this.redisPort = 20_000 + Math.floor(Math.random() * 20_000);
  }

  static async start(
    names: readonly string[],
    options: { extraYaml?: string; env?: Record<string, string> } = {},
  ): Promise<FaultCluster> {
    const net = new FaultNetwork(names);
    net.setUp();
    const dir = mkdtempSync(path.join(tmpdir(), 'triad-faults-'));
    chmodSync(dir, 0o755);
    const certsDir = path.join(dir, 'certs');
    await ensureLocalCertificates({
      dir: certsDir,
      cluster: 'faults',
      instances: names.map((name) => ({ name, host: net.address(name) })),
      days: 1,
    });
    // The audit chain's key beside the certificates, as `triad certs generate` makes it: no node starts without it.
    ensureAuditKey(path.join(certsDir, auditKeyFileName));
    registerCertificates(
      names.map((n) => `${net.address(n)}:${grpcPort}`),
      certsDir,
    );
    const yaml = [
      'cluster:',
      '  name: faults',
      '  topology: complete',
      `  layers_file: ${JSON.stringify(path.join(repoRoot, 'config/layers.yaml'))}`,
      'instances:',
      ...names.map(
        (n) => `  - { name: ${n}, host: ${net.address(n)}, grpc_port: ${grpcPort}, http_port: ${httpPort} }`,
      ),
      'heartbeat:',
      `  interval: ${timing.heartbeatMs}ms`,
      `  timeout: ${timing.heartbeatTimeoutMs}ms`,
      'consensus:',
      `  interval: ${timing.epochIntervalMs}ms`,
      'tls:',
      '  dir: certs',
      options.extraYaml ?? '',
    ].join('\n');
    const clusterFile = path.join(dir, 'cluster.yaml');
    writeFileSync(clusterFile, `${yaml}\n`);
    const database = await createTestDatabase();
    const cluster = new FaultCluster(net, dir, clusterFile, database, options.env ?? {});
    await cluster.startRedis();
    const pg = new URL(testDatabaseUrl);
    for (const name of names) {
      cluster.pgProxies.set(name, await startServiceProxy(bridgeAddress, pg.hostname, Number(pg.port || 5432)));
    }
    for (const name of names) cluster.startNode(name);
    return cluster;
  }

  grpc(name: string): string {
    return `${this.net.address(name)}:${grpcPort}`;
  }

  get names(): readonly string[] {
    return this.net.names;
  }

  /** A private redis-server on the bridge: stopping it or FLUSHALL touches nobody else's keys. */
  async startRedis(): Promise<void> {
    this.redis = spawn(
      'redis-server',
      ['--bind', bridgeAddress, '--port', String(this.redisPort), '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = new Socket();
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
        s.connect(this.redisPort, bridgeAddress);
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${bridgeAddress}:${this.redisPort}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async killRedis(): Promise<void> {
    const redis = this.redis;
    if (!redis || redis.exitCode !== null || redis.signalCode !== null) return;
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    redis.kill('SIGKILL');
    await exited;
  }

  startNode(name: string): void {
    const logDir = path.join(this.dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const log = openSync(path.join(logDir, `${name}.log`), 'a');
    const proxy = this.pgProxies.get(name)!;
    const [cmd, args] = this.net.exec(name, [
      process.execPath,
      triadBin,
      'node',
      '--instance',
      name,
      '--config',
      this.clusterFile,
    ]);
    const child = spawn(cmd, args, {
      env: {
        ...process.env,
        TRIAD_DATA_DIR: this.dir,
        DATABASE_URL: withDatabase(`postgres://postgres@${proxy.host}:${proxy.port}/x`, this.database.name),
        REDIS_URL: `redis://${bridgeAddress}:${this.redisPort}`,
        TRIAD_LOG_LEVEL: 'info',
        ...this.env,
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.once('exit', (code, signal) =>
      this.lives.push({ name, event: 'exit', atMs: Date.now(), how: signal ?? `code ${String(code)}` }),
    );
    this.processes.set(name, child);
    this.lives.push({ name, event: 'start', atMs: Date.now() });
  }

  isRunning(name: string): boolean {
    const child = this.processes.get(name);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async kill(name: string): Promise<void> {
    const child = this.processes.get(name);
    if (!child || !this.isRunning(name)) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    this.lives.push({ name, event: 'kill', atMs: Date.now() });
    await exited;
  }

  pause(name: string): void {
    this.processes.get(name)?.kill('SIGSTOP');
    this.lives.push({ name, event: 'stop', atMs: Date.now() });
  }

  resume(name: string): void {
    this.processes.get(name)?.kill('SIGCONT');
    this.lives.push({ name, event: 'cont', atMs: Date.now() });
  }

  /** Every node's log as lines of JSON (what pino wrote), for leadership changes. */
  logs(): { name: string; lines: Record<string, unknown>[] }[] {
    return this.names.map((name) => {
      let text = '';
      try {
        text = readFileSync(path.join(this.dir, 'logs', `${name}.log`), 'utf8');
      } catch {
        text = '';
      }
      const lines = text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
      return { name, lines };
    });
  }

  /** Ends every process (SIGCONT first, so a paused node can die), the proxies, Redis, the database and the network. */
  /** Exits the harness did not cause (a crash), so far. */
  crashes(): NodeLife[] {
    return this.lives.filter(
      (l) =>
        l.event === 'exit' &&
        !this.lives.some((k) => k.name === l.name && k.event === 'kill' && Math.abs(k.atMs - l.atMs) < 5_000),
    );
  }

  async stop(): Promise<void> {
    for (const name of this.names) this.processes.get(name)?.kill('SIGCONT');
    await Promise.all(this.names.map((n) => this.kill(n)));
    await Promise.all([...this.pgProxies.values()].map((p) => p.close()));
    await this.killRedis();
    await this.database.drop().catch(() => undefined);
    this.net.teardown();
    if (!process.env.TRIAD_FAULTS_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}
