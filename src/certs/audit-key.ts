// The audit key: the secret the audit chain's HMACs are keyed with (docs/security.md, "Audit"). It lives beside the
// certificates, outside the database, so write access to PostgreSQL is not enough to recompute the chain.
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, statSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TriadError } from '../shared/index.js';

/** 256 bits: the HMAC-SHA256 block gives no benefit past the hash's own size, and less would be the weak link. */
export const auditKeyBytes = 32;

/** The file name in a certificates directory (the default `audit.key_file`). */
export const auditKeyFileName = 'audit.key';

/**
 * Creates the key file (32 random bytes, 0600) unless it exists: a new key would make every row it signed unverifiable,
 * so an existing one is never replaced. Resolves whether it was created.
 */
export function ensureAuditKey(file: string): { created: boolean } {
  if (existsSync(file)) {
    readAuditKey(file); // refuse to go on with a key that is unusable, rather than later at the first audited action
    return { created: false };
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, randomBytes(auditKeyBytes), { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { created: true };
}

/**
 * Reads the key, refusing (CONFIG_INVALID, exit 2) a missing file, one of the wrong size, or one that group or others
 * may read: a key anyone on the machine can read protects nothing.
 */
export function readAuditKey(file: string): KeyObject {
  const refuse = (why: string) =>
    new TriadError(
      'CONFIG_INVALID',
      `audit key ${file}: ${why}. 'triad certs generate' (or 'triad up') creates one; config: audit.key_file`,
    );
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw refuse((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  if ((mode & 0o077) !== 0) {
    throw refuse(`mode is ${(mode & 0o777).toString(8)}, must be 600 (chmod 600 ${path.basename(file)})`);
  }
  const bytes = readFileSync(file);
  if (bytes.length !== auditKeyBytes) throw refuse(`${bytes.length} bytes, expected ${auditKeyBytes} random bytes`);
  return createSecretKey(bytes);
}
