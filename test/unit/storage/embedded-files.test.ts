import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { hydrateSymlinks, isPostmasterOf, lookupUser, readPostmasterPid } from '../../../src/storage/embedded-files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'triad-embedded-unit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('hydrateSymlinks', () => {
  function fakePackage() {
    mkdirSync(path.join(dir, 'native', 'lib'), { recursive: true });
    writeFileSync(path.join(dir, 'native', 'lib', 'libicuuc.so.60.2'), 'elf');
    writeFileSync(
      path.join(dir, 'native', 'pg-symlinks.json'),
      JSON.stringify([
        { source: 'native/lib/libicuuc.so.60.2', target: 'native/lib/libicuuc.so.60' },
        { source: 'native/lib/libicuuc.so.60.2', target: 'native/lib/libicuuc.so' },
      ]),
    );
  }

  test('creates the missing links, relative, and nothing on a second run', () => {
    fakePackage();
    expect(hydrateSymlinks(dir)).toBe(2);
    const link = path.join(dir, 'native', 'lib', 'libicuuc.so.60');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('libicuuc.so.60.2');
    expect(hydrateSymlinks(dir)).toBe(0);
  });

  test('replaces a dangling link', () => {
    fakePackage();
    symlinkSync('gone.so', path.join(dir, 'native', 'lib', 'libicuuc.so'));
    expect(hydrateSymlinks(dir)).toBe(2);
    expect(existsSync(path.join(dir, 'native', 'lib', 'libicuuc.so'))).toBe(true);
  });

  test('a package without a link list needs nothing', () => {
    expect(hydrateSymlinks(dir)).toBe(0);
  });
});

describe('readPostmasterPid', () => {
  test('reads pid (line 1) and port (line 4)', () => {
    writeFileSync(path.join(dir, 'postmaster.pid'), `4242\n${dir}\n1700000000\n54329\n\n127.0.0.1\n  1 2\nready   \n`);
    expect(readPostmasterPid(dir)).toEqual({ pid: 4242, port: 54329 });
  });

  test('no file, no server; a garbled file gives pid 0 (never running)', () => {
    expect(readPostmasterPid(dir)).toBeUndefined();
    writeFileSync(path.join(dir, 'postmaster.pid'), 'garbage');
    expect(readPostmasterPid(dir)).toEqual({ pid: 0, port: undefined });
  });
});

describe('isPostmasterOf', () => {
  const pgdata = '/srv/triad/.triad/postgres';
  test('a postgres process with -D <pgdata> is the server of that data dir', () => {
    expect(isPostmasterOf({ ppid: 1, argv: ['/x/native/bin/postgres', '-D', pgdata, '-p', '54329'] }, pgdata)).toBe(
      true,
    );
  });

  test('another data dir, another program (a recycled pid), or no process is not', () => {
    expect(isPostmasterOf({ ppid: 1, argv: ['/x/postgres', '-D', '/elsewhere'] }, pgdata)).toBe(false);
    expect(isPostmasterOf({ ppid: 1, argv: ['/usr/bin/node', '-D', pgdata] }, pgdata)).toBe(false);
    expect(isPostmasterOf(undefined, pgdata)).toBe(false);
  });
});

describe('lookupUser', () => {
  test('reads uid and gid from a passwd file, and names the file when the user is missing', () => {
    const passwd = path.join(dir, 'passwd');
    writeFileSync(
      passwd,
      'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    );
    expect(lookupUser('nobody', passwd)).toEqual({ name: 'nobody', uid: 65534, gid: 65534 });
    expect(() => lookupUser('postgres', passwd)).toThrow(
      `[STARTUP_FAILED] user "postgres" not found in ${passwd}; the embedded PostgreSQL server needs an unprivileged account to run as`,
    );
  });
});
