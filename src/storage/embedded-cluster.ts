// The embedded engine's data directory: who may own it, creating it (initdb), and taking over after a crash.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { TriadError } from '../shared/index.js';
import * as files from './embedded-files.js';
import type { StorageLog } from './pool.js';

/** The database `triad up` uses, and the superuser initdb creates (its password: see initdb below). */
export const embeddedDatabase = 'triad';
export const embeddedSuperuser = 'postgres';

/**
 * The superuser's password, generated on the first start and kept in `<data dir>/postgres.password` (0600, this
 * process's account only). The server listens on 127.0.0.1, and SCRAM keeps every other local account out of it.
 */
export function embeddedPassword(dataDir: string): string {
  const file = path.join(dataDir, 'postgres.password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return password;
}

/**
 * Deals with a postmaster.pid left in the data dir. One process owns the server: a live one still owned by a live
 * process is refused; one whose owner died (SIGKILL: PostgreSQL has no parent-death option) is shut down so this
 * process can own it; a pid that is not a running postgres any more (the server itself was killed) is just removed.
 */
export async function takeOver(pgdata: string, ownerFile: string, log: StorageLog | undefined): Promise<void> {
  const pidFile = files.readPostmasterPid(pgdata);
  if (!pidFile) return;
  const info = files.liveProcess(pidFile.pid);
  if (!files.isPostmasterOf(info, pgdata)) {
    log?.warn(
      { operation: 'embedded_postgres', stale_pid: pidFile.pid },
      'removing stale postmaster.pid: that pid is not a running postgres (server killed?); starting with crash recovery',
    );
    rmSync(path.join(pgdata, 'postmaster.pid'), { force: true });
    return;
  }
  const owner = readOwner(ownerFile);
  if (owner?.postmasterPid !== pidFile.pid) {
    throw new TriadError(
      'STARTUP_FAILED',
      `a PostgreSQL server that triad did not start (pid ${pidFile.pid}) is running on ${pgdata}: stop it first (kill -INT ${pidFile.pid})`,
    );
  }
  if (info?.ppid === owner.ownerPid && files.liveProcess(owner.ownerPid)) {
    throw new TriadError(
      'STARTUP_FAILED',
      `embedded PostgreSQL on ${pgdata} is already running (pid ${pidFile.pid}, port ${pidFile.port ?? '?'}) and owned by ` +
        `process ${owner.ownerPid}: only one process runs it; connect with DATABASE_URL=postgres://${embeddedSuperuser}@127.0.0.1:${pidFile.port ?? '?'}/${embeddedDatabase}, or stop process ${owner.ownerPid}`,
    );
  }
  log?.warn(
    { operation: 'embedded_postgres', pid: pidFile.pid, dead_owner: owner.ownerPid },
    'embedded PostgreSQL outlived the process that started it; shutting it down to take over',
  );
  try {
    process.kill(pidFile.pid, 'SIGINT'); // fast shutdown: clean, no crash recovery on the next start
  } catch (err) {
    throw new TriadError(
      'STARTUP_FAILED',
      `cannot stop orphaned embedded PostgreSQL (pid ${pidFile.pid}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const deadline = Date.now() + 30_000;
  while (files.liveProcess(pidFile.pid)) {
    if (Date.now() > deadline) {
      throw new TriadError(
        'STARTUP_FAILED',
        `orphaned embedded PostgreSQL (pid ${pidFile.pid}) did not stop within 30 s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  rmSync(path.join(pgdata, 'postmaster.pid'), { force: true });
}

function readOwner(ownerFile: string): { ownerPid: number; postmasterPid: number } | undefined {
  try {
    return JSON.parse(readFileSync(ownerFile, 'utf8')) as { ownerPid: number; postmasterPid: number };
  } catch {
    return undefined;
  }
}

export async function initdb(
  bins: files.Binaries,
  pgdata: string,
  password: string,
  runAs: files.OsUser | undefined,
  log: StorageLog | undefined,
): Promise<number> {
  if (existsSync(pgdata) && readdirSync(pgdata).length > 0) {
    throw new TriadError(
      'STARTUP_FAILED',
      `${pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION; an interrupted first start?): remove it to start afresh`,
    );
  }
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  if (runAs) chownSync(pgdata, runAs.uid, runAs.gid);
  const started = performance.now();
  // SCRAM with a generated password: the server listens on 127.0.0.1 only (no Unix socket), and no other account on
  // the machine can connect without the password file. initdb reads the password from a file the server's account can
  // open (beside the data dir, 0600), removed as soon as initdb is done.
  const pwfile = path.join(path.dirname(pgdata), `.initdb-password-${process.pid}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs) chownSync(pwfile, runAs.uid, runAs.gid);
  const args = [
    '-D',
    pgdata,
    '-U',
    embeddedSuperuser,
    '--auth=scram-sha-256',
    `--pwfile=${pwfile}`,
    '-E',
    'UTF8',
    '--locale=C',
    '--no-instructions',
  ];
  const output = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(bins.initdb, args, {
      cwd: pgdata,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' },
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', (err) => resolve({ code: null, text: `${text}${err.message}` }));
    child.once('close', (code) => resolve({ code, text }));
  });
  rmSync(pwfile, { force: true });
  if (output.code !== 0) {
    throw new TriadError('STARTUP_FAILED', `initdb failed for ${pgdata} (exit ${output.code}):\n${output.text.trim()}`);
  }
  const initdbMs = performance.now() - started;
  log?.info({ operation: 'embedded_postgres', pgdata, initdb_ms: initdbMs }, 'initialised a new cluster');
  return initdbMs;
}

export function checkExisting(pgdata: string, runAs: files.OsUser | undefined, bundled: string): void {
  const version = readFileSync(path.join(pgdata, 'PG_VERSION'), 'utf8').trim();
  if (version !== bundled) {
    throw new TriadError(
      'STARTUP_FAILED',
      `${pgdata} was created by PostgreSQL ${version}; the embedded engine is PostgreSQL ${bundled}: move it aside to start afresh (or pg_upgrade it)`,
    );
  }
  const owner = statSync(pgdata).uid;
  const expected = runAs?.uid ?? process.getuid?.();
  if (expected !== undefined && owner !== expected) {
    throw new TriadError(
      'STARTUP_FAILED',
      `${pgdata} belongs to uid ${owner} but the server runs as uid ${expected}: chown -R ${expected} ${pgdata}`,
    );
  }
}

/**
 * A data dir made by an older triad trusts every local connection: give the superuser the generated password and
 * switch pg_hba.conf to SCRAM, then reload. Runs once, on the first start after the upgrade.
 */
export async function requirePassword(
  pgdata: string,
  connect: () => Promise<{
    query(sql: string): Promise<unknown>;
    escapeLiteral(text: string): string;
    end(): Promise<void>;
  }>,
  password: string,
  log: StorageLog | undefined,
): Promise<void> {
  const hba = path.join(pgdata, 'pg_hba.conf');
  const text = readFileSync(hba, 'utf8');
  if (!/^\s*host\s+.*\btrust\s*$/m.test(text)) return;
  const client = await connect();
  try {
    await client.query(`ALTER ROLE ${embeddedSuperuser} PASSWORD ${client.escapeLiteral(password)}`);
    const owner = statSync(hba);
    writeFileSync(hba, text.replace(/\btrust\s*$/gm, 'scram-sha-256'));
    chownSync(hba, owner.uid, owner.gid);
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
  log?.warn(
    { operation: 'embedded_postgres', pgdata },
    'switched trust authentication to a generated password (SCRAM)',
  );
}
