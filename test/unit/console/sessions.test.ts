import { describe, expect, test } from 'vitest';
import { createSessions, mintableRoles, signToken, verifyToken, type TokenClaims } from '../../../src/console/index.js';
import { ManualClock } from '../../fixtures/manual-clock.js';

const key = Buffer.alloc(32, 7);

describe('console sessions', () => {
  test('a login code signs in once; the session carries role, name and a CSRF token', () => {
    const clock = new ManualClock();
    const sessions = createSessions({ key, clock });
    const login = sessions.mintLogin('operator', 'alice', 30 * 60_000);
    const first = sessions.exchange(login.token);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.session).toMatchObject({ role: 'operator', name: 'alice' });
    expect(first.session.expiresAtMs).toBe(clock.now() + 30 * 60_000);
    expect(sessions.exchange(login.token)).toEqual({ ok: false, problem: 'already_used' });
    const auth = sessions.authenticate(first.cookie);
    expect(auth.ok && auth.session.csrf).toBe(first.session.csrf);
  });

  test('a session ends at its TTL, a login code after five minutes, a logout at once', async () => {
    const clock = new ManualClock();
    const sessions = createSessions({ key, clock });
    const stale = sessions.mintLogin('viewer', 'bob', 60 * 60_000);
    await clock.advance(5 * 60_000);
    expect(sessions.exchange(stale.token)).toEqual({ ok: false, problem: 'expired' });
    const fresh = sessions.exchange(sessions.mintLogin('viewer', 'bob', 60 * 60_000).token);
    if (!fresh.ok) throw new Error('exchange failed');
    await clock.advance(60 * 60_000 - 1);
    expect(sessions.authenticate(fresh.cookie).ok).toBe(true);
    await clock.advance(1);
    expect(sessions.authenticate(fresh.cookie)).toEqual({ ok: false, problem: 'expired' });
    const other = sessions.exchange(sessions.mintLogin('viewer', 'bob', 60 * 60_000).token);
    if (!other.ok) throw new Error('exchange failed');
    sessions.logout(other.session);
    expect(sessions.authenticate(other.cookie)).toEqual({ ok: false, problem: 'revoked' });
  });

  test('sessions last 1 minute to 4 hours', () => {
    const sessions = createSessions({ key, clock: new ManualClock() });
    expect(() => sessions.mintLogin('viewer', 'x', 4 * 3_600_000 + 1)).toThrow(/--ttl must be from 1m to 4h/);
    expect(() => sessions.mintLogin('viewer', 'x', 59_999)).toThrow(/INPUT_INVALID/);
    expect(sessions.mintLogin('viewer', 'x', 4 * 3_600_000).sessionExpiresAtMs).toBeGreaterThan(0);
  });

  test('a forged, altered or foreign token is refused; a login code is not a session', () => {
    const clock = new ManualClock();
    const sessions = createSessions({ key, clock });
    const login = sessions.mintLogin('viewer', 'eve', 60_000);
    expect(sessions.authenticate(login.token)).toEqual({ ok: false, problem: 'malformed' });
    const [payload] = login.token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const promoted = Buffer.from(JSON.stringify({ ...claims, kind: 'session', role: 'operator' })).toString(
      'base64url',
    );
    expect(sessions.authenticate(`${promoted}.${login.token.split('.')[1]}`)).toEqual({
      ok: false,
      problem: 'bad_signature',
    });
    const foreign = signToken(Buffer.alloc(32, 9), { ...(claims as unknown as TokenClaims), kind: 'session' });
    expect(sessions.authenticate(foreign)).toEqual({ ok: false, problem: 'bad_signature' });
    expect(sessions.authenticate('not-a-token')).toEqual({ ok: false, problem: 'malformed' });
    expect(sessions.authenticate(undefined)).toEqual({ ok: false, problem: 'none' });
    expect(verifyToken(key, 'a.b.c', clock.now())).toEqual({ ok: false, problem: 'malformed' });
  });

  test('an operator certificate mints both roles, a viewer only viewer, others none', () => {
    expect(mintableRoles('operator')).toEqual(['operator', 'viewer']);
    expect(mintableRoles('viewer')).toEqual(['viewer']);
    expect(mintableRoles('ingest')).toEqual([]);
    expect(mintableRoles('node')).toEqual([]);
  });
});
