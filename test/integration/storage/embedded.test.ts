import { afterAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { TriadError } from '../../../src/shared/index.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/storage/index.js';
import { assertEnterable, liveProcess, lookupUser, readPostmasterPid } from '../../../src/storage/embedded-files.js';
import { repoRoot } from '../../fixtures/cluster.js';
import { freePorts } from '../../fixtures/ports.js';
import { embeddedDataDir } from '../../fixtures/postgres.js';
import { recordingLog } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const dataDirs: string[] = [];
const servers: EmbeddedPostgres[] = [];

function newDataDir(): string {
  const dir = embeddedDataDir();
  dataDirs.push(dir);
  return dir;
}

async function start(dataDir: string, options: { port?: number } = {}) {
  const { log, lines } = recordingLog();
  const server = await startEmbeddedPostgres({ dataDir, log, ...options });
  servers.push(server);
  return { server, lines };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A data dir that was initialised and stopped cleanly, holding a table `kept` with one row. */
async function stoppedDataDirWith(row: string): Promise<string> {
  const dataDir = newDataDir();
  const { server } = await start(dataDir);
  await query(server.url, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('${row}')`);
  await server.stop();
  return dataDir;
}

const passwordFilesIn = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((f) => /pass|pwfile|pg-password/i.test(f)) : [];

const tmpPasswordFilesBefore = passwordFilesIn(tmpdir());

afterAll(async () => {
  for (const server of servers) await server.stop();
  // Belt and braces: a server a failed test left behind is stopped by its pid, never by name.
  for (const dir of dataDirs) {
    const pid = readPostmasterPid(path.join(dir, 'postgres'))?.pid ?? 0;
    if (liveProcess(pid)) process.kill(pid, 'SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('embedded PostgreSQL engine', () => {
  // Every test brings its own data dir (initdb included), so none depends on what another left running or stored.
  test('first start runs initdb and serves a real server on loopback only', async () => {
    const dataDir = newDataDir();
    const { server: first } = await start(dataDir);
    expect(first.initialised).toBe(true);
    expect(first.timings.initdbMs).toBeGreaterThan(0);
    // SCRAM with a generated password, kept beside the data for this account only; without it nobody gets in.
    const passwordFile = path.join(dataDir, 'postgres.password');
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(first.url).toBe(`postgres://postgres:${password}@127.0.0.1:${first.port}/triad`);
    await expect(query(`postgres://postgres@127.0.0.1:${first.port}/triad`, 'SELECT 1')).rejects.toThrow(/password/);
    const [settings] = await query<{ listen: string; sockets: string; db: string; version: string }>(
      first.url,
      `SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets,
              current_database() AS db, current_setting('server_version_num') AS version`,
    );
    expect(settings).toMatchObject({ listen: '127.0.0.1', sockets: '', db: 'triad' });
    expect(settings?.version).toMatch(/^18\d{4}$/);
    const pgdata = path.join(dataDir, 'postgres');
    expect(statSync(pgdata).mode & 0o777).toBe(0o700);
    if (isRoot) {
      // PostgreSQL refuses to run as root, so the server and its files belong to nobody.
      expect(statSync(pgdata).uid).toBe(lookupUser('nobody').uid);
      expect(readFileUid(first.pid)).toBe(lookupUser('nobody').uid);
    }
    await first.stop();
  });

  test('a second start on a running data dir is refused, naming the process that owns it', async () => {
    const dataDir = newDataDir();
    const { server: first } = await start(dataDir);
    const err = await startEmbeddedPostgres({ dataDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TriadError);
    expect((err as TriadError).code).toBe('STARTUP_FAILED');
    expect((err as TriadError).message).toContain(
      `is already running (pid ${first.pid}, port ${first.port}) and owned by process ${process.pid}`,
    );
    await first.stop();
  });

  test('stop then start keeps the data and skips initdb', async () => {
    const dataDir = newDataDir();
    const { server: first } = await start(dataDir);
    await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$before restart$$)');
    const { stopMs } = await first.stop();
    expect(stopMs).toBeGreaterThan(0);
    expect(liveProcess(first.pid)).toBeUndefined();
    const { server } = await start(dataDir);
    expect(server.initialised).toBe(false);
    expect(server.timings.initdbMs).toBeUndefined();
    expect(await query(server.url, 'SELECT v FROM kept')).toEqual([{ v: 'before restart' }]);
    await server.stop();
  });

  test('a stale postmaster.pid naming a dead pid is removed, with a warning, and the server starts', async () => {
    const dataDir = await stoppedDataDirWith('before stale pid');
    const pgdata = path.join(dataDir, 'postgres');
    // What a killed server leaves behind; 2^22 + 1 is above the default pid_max, so no process has it.
    writeFileSync(
      path.join(pgdata, 'postmaster.pid'),
      `4194305\n${pgdata}\n1700000000\n54329\n\n127.0.0.1\n1 1\nready\n`,
    );
    const { server, lines } = await start(dataDir);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', stale_pid: 4194305 }));
    expect(await query(server.url, 'SELECT v FROM kept')).toEqual([{ v: 'before stale pid' }]);
    await server.stop();
  });

  test('a SIGKILLed server restarts with crash recovery and keeps committed rows', async () => {
    const dataDir = await stoppedDataDirWith('before restart');
    const { server } = await start(dataDir);
    await query(server.url, 'INSERT INTO kept VALUES ($$before kill$$)');
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(true);
    const { server: again, lines } = await start(dataDir);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', stale_pid: server.pid }));
    expect(await query(again.url, 'SELECT v FROM kept ORDER BY v')).toEqual([
      { v: 'before kill' },
      { v: 'before restart' },
    ]);
    await again.stop();
  });

  test('a server whose owner was SIGKILLed is shut down and taken over by the next start', async () => {
    const dataDir = await stoppedDataDirWith('before restart');
    const owner = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { startEmbeddedPostgres } = await import(process.argv[1]);
         const s = await startEmbeddedPostgres({ dataDir: process.argv[2] });
         process.stdout.write(JSON.stringify({ pid: s.pid, url: s.url }) + '\\n');
         setInterval(() => {}, 60_000);`,
        path.join(repoRoot, 'dist/storage/index.js'),
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const orphan = await new Promise<{ pid: number; url: string }>((resolve, reject) => {
      owner.stdout.once('data', (chunk: Buffer) =>
        resolve(JSON.parse(chunk.toString()) as { pid: number; url: string }),
      );
      owner.once('exit', (code) => reject(new Error(`owner exited early (code ${code})`)));
    });
    await query(orphan.url, 'INSERT INTO kept VALUES ($$under the first owner$$)');
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    expect(liveProcess(orphan.pid)).toBeDefined(); // PostgreSQL has no parent-death option: it outlives its owner

    const { server, lines } = await start(dataDir);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', pid: orphan.pid, dead_owner: owner.pid }));
    expect(liveProcess(orphan.pid)).toBeUndefined();
    expect(server.pid).not.toBe(orphan.pid);
    expect(await query(server.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
    await server.stop();
  });

  test('an explicitly requested port that is taken fails clearly, without starting anything', async () => {
    const dataDir = await stoppedDataDirWith('before port clash');
    const [port] = await freePorts(1);
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const err = await startEmbeddedPostgres({ dataDir, port }).catch((e: unknown) => e);
      expect((err as TriadError).code).toBe('STARTUP_FAILED');
      expect((err as TriadError).message).toContain(`cannot start embedded PostgreSQL on 127.0.0.1:${port}`);
      expect(readPostmasterPid(path.join(dataDir, 'postgres'))).toBeUndefined();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('the one password file is the kept 0600 one beside the data: none in PGDATA, $HOME or the temp dir', async () => {
    const dataDir = await stoppedDataDirWith('after initdb');
    expect(passwordFilesIn(dataDir)).toEqual(['postgres.password']);
    expect(passwordFilesIn(path.join(dataDir, 'postgres'))).toEqual([]);
    expect(existsSync(path.join(homedir(), '.pgpass'))).toBe(false);
    expect(passwordFilesIn(tmpdir())).toEqual(tmpPasswordFilesBefore);
  });
});

describe('embedded engine: a data dir from before passwords', () => {
  test('trust authentication is switched to SCRAM with a new generated password on the next start', async () => {
    const dataDir = await stoppedDataDirWith('trusted');
    // What an older triad left: pg_hba.conf trusting local connections, and no password file.
    const hba = path.join(dataDir, 'postgres', 'pg_hba.conf');
    writeFileSync(hba, readFileSync(hba, 'utf8').replace(/scram-sha-256\s*$/gm, 'trust'));
    rmSync(path.join(dataDir, 'postgres.password'));
    const { server, lines } = await start(dataDir);
    expect(lines.map((l) => l.msg)).toContain('switched trust authentication to a generated password (SCRAM)');
    expect(readFileSync(hba, 'utf8')).not.toMatch(/\btrust\s*$/m);
    expect(await query<{ v: string }>(server.url, 'SELECT v FROM kept')).toEqual([{ v: 'trusted' }]);
    await expect(query(`postgres://postgres@127.0.0.1:${server.port}/triad`, 'SELECT 1')).rejects.toThrow(/password/);
  });
});

describe('embedded engine: folders the server account cannot enter', () => {
  test('a 0700 folder on the way is named in the error, and nothing is chmodded', async () => {
    const parent = newDataDir();
    const locked = path.join(parent, 'private');
    mkdirSync(locked, { mode: 0o700 });
    chmodSync(locked, 0o700);
    const nobody = { name: 'nobody', uid: 65534, gid: 65534 };
    const check = () => assertEnterable(path.join(locked, 'project', '.triad'), nobody, 'the data directory');
    expect(check).toThrow(TriadError);
    expect(check).toThrow(
      `the embedded PostgreSQL server runs as nobody (uid 65534) because PostgreSQL refuses to run as root, and ` +
        `nobody cannot enter ${locked} (mode 700, owner uid ${process.getuid?.()}) on the way to the data directory: ` +
        `set TRIAD_DATA_DIR to a folder it can reach, or allow it with: chmod o+x ${locked}`,
    );
    if (isRoot) {
      const err = await startEmbeddedPostgres({ dataDir: path.join(locked, '.triad') }).catch((e: unknown) => e);
      expect((err as TriadError).code).toBe('STARTUP_FAILED');
      expect((err as TriadError).message).toContain(`nobody cannot enter ${locked} (mode 700`);
    }
    expect(statSync(locked).mode & 0o777).toBe(0o700);
  });
});

/** The real uid a process runs as, from /proc (the first number of its Uid: line). */
function readFileUid(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}
