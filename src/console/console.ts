import { fileURLToPath } from 'node:url';
import type { EpochOutcome } from '../consensus/index.js';
import type { Clock, Logger } from '../shared/index.js';
import { createConsoleData, type ConsoleDataDeps } from './data.js';
import { createEventHub, type ConsoleEvent, type EventHub } from './events.js';
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
  /** How often open consoles look for new rollout run events (default 1 s). */
  rolloutPollMs?: number;
}

export type NodeConsole = ReturnType<typeof createConsole>;

/** The console of one node: its routes for the HTTP edge, its login for Admin/ConsoleLogin, its event feed. */
export function createConsole(deps: ConsoleDeps) {
  const log = deps.log.child({ component: 'console' });
  const sessions = createSessions({ key: loadConsoleKey(deps.certsDir, deps.instance), clock: deps.clock });
  const events = createEventHub({ clock: deps.clock });
  const data = createConsoleData(deps);
  const rolloutFeed = followRolloutEvents(deps, events, log);
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
    close: () => {
      rolloutFeed.stop();
      events.closeAll();
    },
  };
}

/**
 * Rollout run events reach every node's consoles by polling rollout_events, not by an in-process hook: the leader's
 * executor writes them, and so does whichever node took an operator's command, so only the table sees them all. It
 * polls only while a stream is open, and starts from where the table ends when the first one opens (no replay).
 */
function followRolloutEvents(
  deps: Pick<ConsoleDeps, 'rollouts' | 'rolloutPollMs'>,
  events: EventHub,
  log: Logger,
): { stop(): void } {
  let afterId: number | undefined;
  let busy = false;
  let failing = false;
  const timer = setInterval(() => {
    if (events.size === 0) {
      afterId = undefined;
      return;
    }
    if (busy) return;
    busy = true;
    deps.rollouts
      .eventsAfter(afterId, 100)
      .then((feed) => {
        afterId = feed.lastId;
        failing = false;
        for (const e of feed.events)
          events.publish({ type: 'rollout', runId: e.runId, kind: e.kind, message: e.message });
      })
      .catch((err: unknown) => {
        // Storage down is reported by /ready and the pages' own reads; one line when it starts is enough here.
        if (!failing) log.warn({ err, operation: 'console_rollout_events' }, 'cannot read rollout events');
        failing = true;
      })
      .finally(() => {
        busy = false;
      });
  }, deps.rolloutPollMs ?? 1_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Loopback hosts get `localhost` in plain-HTTP URLs: browsers keep Secure cookies over http only for localhost. */
export function consoleBaseUrl(host: string, port: number, https: boolean): string {
  if (https) return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return `http://localhost:${port}`;
}
