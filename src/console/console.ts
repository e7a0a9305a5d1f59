import { fileURLToPath } from 'node:url';
import type { EpochOutcome } from '../consensus/index.js';
import type { Clock, Logger } from '../shared/index.js';
import { createConsoleData, type ConsoleDataDeps } from './data.js';
import { createEventHub, type ConsoleEvent } from './events.js';
import { createConsoleLogin } from './login.js';
import { createConsoleRoutes } from './routes.js';
import { createSessions } from './sessions.js';
import { loadConsoleKey } from './tokens.js';

export interface ConsoleDeps extends ConsoleDataDeps {
  clock: Clock;
  log: Logger;
  /** The certificates directory: the signing key lives beside the certificates (tokens.ts). */
  certsDir: string;
  /** Where a browser reaches this node's HTTP port, e.g. https://10.0.0.5:9464 or http://localhost:9464. */
  baseUrl: string;
  /** The built front end; default: dist/console/public beside this module once built. */
  assetsDir?: string;
}

export type NodeConsole = ReturnType<typeof createConsole>;

/** The console of one node: its routes for the HTTP edge, its login for Admin/ConsoleLogin, its event feed. */
export function createConsole(deps: ConsoleDeps) {
  const log = deps.log.child({ component: 'console' });
  const sessions = createSessions({ key: loadConsoleKey(deps.certsDir, deps.instance), clock: deps.clock });
  const events = createEventHub({ clock: deps.clock });
  const data = createConsoleData(deps);
  return {
    handle: createConsoleRoutes({
      sessions,
      events,
      api: data,
      assetsDir: deps.assetsDir ?? fileURLToPath(new URL('./public/', import.meta.url)),
      clock: deps.clock,
      log,
    }),
    login: createConsoleLogin({ sessions, baseUrl: deps.baseUrl }),
    publish: (event: ConsoleEvent): void => events.publish(event),
    onOutcome(outcome: EpochOutcome): void {
      data.recordEpoch(outcome);
      events.publish({ type: 'epoch', epochId: outcome.epochId, error: outcome.error, converged: outcome.converged });
    },
    /** Ends open event streams so the HTTP server can close. */
    close: () => events.closeAll(),
  };
}

/** Loopback hosts get `localhost` in plain-HTTP URLs: browsers keep Secure cookies over http only for localhost. */
export function consoleBaseUrl(host: string, port: number, https: boolean): string {
  if (https) return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return `http://localhost:${port}`;
}
