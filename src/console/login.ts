import { TriadError } from '../shared/index.js';
import type { Sessions } from './sessions.js';
import { isConsoleRole, sessionTtlBounds, type ConsoleRole } from './tokens.js';

/**
 * Which console roles a caller's certificate may mint: an operator both, a viewer only viewer. `local` is the
 * plaintext-loopback caller (no certificates at all), who is this machine's operator everywhere else too.
 */
export function mintableRoles(certificateRole: string): readonly ConsoleRole[] {
  if (certificateRole === 'operator' || certificateRole === 'local') return ['operator', 'viewer'];
  if (certificateRole === 'viewer') return ['viewer'];
  return [];
}

/**
 * Admin/ConsoleLogin for one node: checks the requested role against the caller's certificate and returns the
 * one-time URL of this node's console. `baseUrl` is where a browser reaches the node's HTTP port (see node wiring).
 */
export function createConsoleLogin(deps: { sessions: Sessions; baseUrl: string }) {
  return (caller: { role: string; name: string }, request: { role: string; ttlMs: number }) => {
    if (!isConsoleRole(request.role))
      throw new TriadError(
        'INPUT_INVALID',
        `--role must be viewer or operator, received "${request.role.slice(0, 32)}"`,
      );
    const allowed = mintableRoles(caller.role);
    if (!allowed.includes(request.role))
      throw new TriadError(
        'PERMISSION_DENIED',
        `an ${request.role} console session needs an ${request.role === 'operator' ? 'operator' : 'operator or viewer'} certificate; "${caller.role}/${caller.name}" is ${caller.role}`,
      );
    const minted = deps.sessions.mintLogin(
      request.role,
      caller.name,
      request.ttlMs === 0 ? sessionTtlBounds.defaultMs : request.ttlMs,
    );
    return {
      url: `${deps.baseUrl}/console/login?token=${minted.token}`,
      token: minted.token,
      role: minted.role,
      name: minted.name,
      login_expires_at_ms: minted.loginExpiresAtMs,
      session_expires_at_ms: minted.sessionExpiresAtMs,
    };
  };
}
