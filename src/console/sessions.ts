import { TriadError, type Clock } from '../shared/index.js';
import {
  csrfTokenOf,
  loginTtlMs,
  newTokenId,
  sessionTtlBounds,
  signToken,
  verifyToken,
  type ConsoleRole,
  type TokenClaims,
  type TokenProblem,
} from './tokens.js';

export interface Session {
  id: string;
  role: ConsoleRole;
  name: string;
  expiresAtMs: number;
  csrf: string;
}

export interface MintedLogin {
  token: string;
  role: ConsoleRole;
  name: string;
  loginExpiresAtMs: number;
  sessionExpiresAtMs: number;
}

export type Sessions = ReturnType<typeof createSessions>;

/**
 * Console sign-in: a certificate holder mints a one-time login code (through Admin/ConsoleLogin, so mTLS and the
 * authz table decide who may); the browser exchanges it once for a session cookie. Sessions are signed tokens, so a
 * node keeps only what makes them end early: used login codes and logged-out sessions, each until it would have
 * expired anyway (bounded by the 5-minute and 4-hour lifetimes).
 */
export function createSessions(deps: { key: Buffer; clock: Pick<Clock, 'now'> }) {
  const { key, clock } = deps;
  const used = new Map<string, number>();
  const revoked = new Map<string, number>();
  const prune = (set: Map<string, number>) => {
    const now = clock.now();
    for (const [id, until] of set) if (until <= now) set.delete(id);
  };
  const sessionOf = (claims: TokenClaims): Session => ({
    id: claims.id,
    role: claims.role,
    name: claims.name,
    expiresAtMs: claims.expiresAtMs,
    csrf: csrfTokenOf(key, claims.id),
  });
  return {
    mintLogin(role: ConsoleRole, name: string, ttlMs: number = sessionTtlBounds.defaultMs): MintedLogin {
      if (!Number.isInteger(ttlMs) || ttlMs < sessionTtlBounds.minMs || ttlMs > sessionTtlBounds.maxMs)
        throw new TriadError(
          'INPUT_INVALID',
          `--ttl must be from 1m to 4h (the plan's admin session limit), received ${ttlMs} ms`,
        );
      const now = clock.now();
      const claims: TokenClaims = {
        kind: 'login',
        role,
        name,
        id: newTokenId(),
        sessionExpiresAtMs: now + ttlMs,
        expiresAtMs: Math.min(now + loginTtlMs, now + ttlMs),
      };
      return {
        token: signToken(key, claims),
        role,
        name,
        loginExpiresAtMs: claims.expiresAtMs,
        sessionExpiresAtMs: claims.sessionExpiresAtMs,
      };
    },
    /** Exchanges a login code for a session token, once. */
    exchange(loginToken: string): { ok: true; cookie: string; session: Session } | { ok: false; problem: string } {
      const checked = verifyToken(key, loginToken, clock.now());
      if (!checked.ok) return { ok: false, problem: checked.problem };
      const { claims } = checked;
      if (claims.kind !== 'login') return { ok: false, problem: 'not_a_login_code' };
      prune(used);
      if (used.has(claims.id)) return { ok: false, problem: 'already_used' };
      used.set(claims.id, claims.expiresAtMs);
      const session: TokenClaims = {
        kind: 'session',
        role: claims.role,
        name: claims.name,
        id: newTokenId(),
        sessionExpiresAtMs: claims.sessionExpiresAtMs,
        expiresAtMs: claims.sessionExpiresAtMs,
      };
      return { ok: true, cookie: signToken(key, session), session: sessionOf(session) };
    },
    /** The session a cookie carries, or why there is none. */
    authenticate(
      cookie: string | undefined,
    ): { ok: true; session: Session } | { ok: false; problem: TokenProblem | 'none' | 'revoked' } {
      if (!cookie) return { ok: false, problem: 'none' };
      const checked = verifyToken(key, cookie, clock.now());
      if (!checked.ok) return checked;
      if (checked.claims.kind !== 'session') return { ok: false, problem: 'malformed' };
      if (revoked.has(checked.claims.id)) return { ok: false, problem: 'revoked' };
      return { ok: true, session: sessionOf(checked.claims) };
    },
    logout(session: Session): void {
      prune(revoked);
      revoked.set(session.id, session.expiresAtMs);
    },
  };
}
