import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ensureAuditKey, readAuditKey } from '../../../src/certs/index.js';

describe('the audit key file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'triad-audit-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('is created once as 32 random bytes, 0600, and never replaced', () => {
    const file = path.join(dir, 'certs', 'audit.key');
    expect(ensureAuditKey(file)).toEqual({ created: true });
    const first = readFileSync(file);
    expect(first).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(ensureAuditKey(file)).toEqual({ created: false });
    expect(readFileSync(file).equals(first)).toBe(true);
    expect(readAuditKey(file).export().equals(first)).toBe(true);
    // Two keys made apart are different keys.
    const other = path.join(dir, 'other.key');
    ensureAuditKey(other);
    expect(readFileSync(other).equals(first)).toBe(false);
  });

  test('a missing, readable-by-others or wrong-sized key is refused with CONFIG_INVALID naming the file', () => {
    const file = path.join(dir, 'audit.key');
    expect(() => readAuditKey(file)).toThrow(`[CONFIG_INVALID] audit key ${file}: file not found.`);
    writeFileSync(file, Buffer.alloc(32, 1), { mode: 0o640 });
    chmodSync(file, 0o640);
    expect(() => readAuditKey(file)).toThrow('mode is 640, must be 600 (chmod 600 audit.key)');
    expect(() => ensureAuditKey(file)).toThrow('mode is 640');
    writeFileSync(file, Buffer.alloc(16, 1));
    chmodSync(file, 0o600);
    expect(() => readAuditKey(file)).toThrow('16 bytes, expected 32 random bytes');
  });
});
