import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TriadError } from '../shared/index.js';

/** Who a console session is: the role it may act as and the certificate name that minted it. */
export type ConsoleRole = 'viewer' | 'operator';

export function isConsoleRole(value: string): value is ConsoleRole {
  return value === 'viewer' || value === 'operator';
}

/**
 * The operations plan's admin sessions last at most 4 hours; a console session is one of them. The floor keeps a
 * typo (`--ttl 4`, read as milliseconds) from minting a token that is dead before the browser opens it.
 */
export const sessionTtlBounds = { minMs: 60_000, maxMs: 4 * 3_600_000, defaultMs: 4 * 3_600_000 } as const;
/** A sign-in link is for the operator who just asked for it: it dies if not opened within five minutes. */
export const loginTtlMs = 5 * 60_000;

export interface TokenClaims {
  /** login: the one-time code in the sign-in URL; session: the cookie it is exchanged for. */
  kind: 'login' | 'session';
  role: ConsoleRole;
  /** The minting certificate's name (`alice`): the audit actor is `console:<role>/<name>`. */
  name: string;
  /** Random id: makes a login code one-time and lets logout revoke a session. */
  id: string;
  /** When the session it grants (or is) ends, ms since the epoch. */
  sessionExpiresAtMs: number;
  /** When this token stops being accepted, ms since the epoch. */
  expiresAtMs: number;
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** HMAC-SHA256 signed claims, `<payload>.<mac>` in base64url: small enough for a cookie and a URL. */
export function signToken(key: Buffer, claims: TokenClaims): string {
  const payload = b64(JSON.stringify(claims));
  return `${payload}.${b64(createHmac('sha256', key).update(payload).digest())}`;
}

export type TokenProblem = 'malformed' | 'bad_signature' | 'expired';

/** The claims of a token this key signed and that is valid at `nowMs`, or why not. */
export function verifyToken(
  key: Buffer,
  token: string,
  nowMs: number,
): { ok: true; claims: TokenClaims } | { ok: false; problem: TokenProblem } {
  if (token.length > 2_048) return { ok: false, problem: 'malformed' };
  const [payload, mac, extra] = token.split('.');
  if (!payload || !mac || extra !== undefined) return { ok: false, problem: 'malformed' };
  const expected = createHmac('sha256', key).update(payload).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, problem: 'bad_signature' };
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  if (
    (claims.kind !== 'login' && claims.kind !== 'session') ||
    !isConsoleRole(String(claims.role)) ||
    typeof claims.name !== 'string' ||
    typeof claims.id !== 'string' ||
    !Number.isFinite(claims.expiresAtMs) ||
    !Number.isFinite(claims.sessionExpiresAtMs)
  )
    return { ok: false, problem: 'malformed' };
  if (nowMs >= claims.expiresAtMs) return { ok: false, problem: 'expired' };
  return { ok: true, claims };
}

/** The CSRF token of a session: derived, so the server keeps no table of them and a stolen one dies with the session. */
export function csrfTokenOf(key: Buffer, sessionId: string): string {
  return b64(createHmac('sha256', key).update(`csrf:${sessionId}`).digest());
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const newTokenId = (): string => randomBytes(16).toString('base64url');

/**
 * The node's console signing key, beside its certificates (`<certs>/console/<instance>.key`, 0600, in a 0700
 * folder), made on first start. One key per instance: a sign-in URL names the node that minted it, so no key has to
 * be shared, and deleting the file (then restarting the node) signs every console session out.
 */
export function loadConsoleKey(certsDir: string, instance: string): Buffer {
  const dir = path.join(certsDir, 'console');
  const file = path.join(dir, `${instance}.key`);
  try {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length < 32) throw new TriadError('CONFIG_INVALID', `${file}: a console key needs 32 bytes or more`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const key = randomBytes(32);
  // wx: two starts racing on one file must not both write; the loser reads the winner's key.
  try {
    writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadConsoleKey(certsDir, instance);
    throw err;
  }
  return key;
}
