import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { MutationInput } from '../layer-manager/index.js';
import { asTriadError, errorKinds, TriadError, type Clock, type Logger } from '../shared/index.js';
import { rolloutActions, type ConsoleApi, type RolloutAction } from './data.js';
import type { EventHub } from './events.js';
import type { Session, Sessions } from './sessions.js';
import { signInPage } from './sign-in-page.js';
import { sameSecret } from './tokens.js';

export interface ConsoleRoutesDeps {
  sessions: Sessions;
  events: EventHub;
  api: ConsoleApi;
  /** The built front end (dist/console/public): index.html and its assets. */
  assetsDir: string;
  clock: Pick<Clock, 'now'>;
  log: Logger;
}

/** `__Host-`: the browser keeps it only if Secure, path /, and set by this origin with no Domain. */
export const sessionCookie = '__Host-triad_console';
export const csrfHeader = 'x-triad-csrf';
/** Console POST bodies are a command and a reason: 16 KiB, like an Admin/Mutate message. */
const maxBodyBytes = 16 * 1024;
const assetTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/**
 * No inline script, no other origin, no framing: the console's own bundle is the only code that runs, which blunts an
 * injected string and clickjacking alike.
 */
const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Everything under /console: the sign-in exchange, the page and its assets, the JSON API and the event stream. */
export function createConsoleRoutes(deps: ConsoleRoutesDeps): ConsoleHandler {
  const { sessions, events, api, log } = deps;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const route = url.pathname;
    const method = req.method ?? 'GET';
    if (route === '/console/login' && method === 'GET') {
      const token = url.searchParams.get('token');
      if (!token) return html(res, 200, signInPage(reasonText(url.searchParams.get('reason'))));
      const exchanged = sessions.exchange(token.trim());
      if (!exchanged.ok) {
        log.warn({ operation: 'console_login', problem: exchanged.problem }, 'console sign-in refused');
        return html(
          res,
          401,
          signInPage(
            `That code cannot sign you in (${exchanged.problem.replace(/_/g, ' ')}). Ask for a new one with triad console login.`,
          ),
        );
      }
      const { session } = exchanged;
      log.info({ operation: 'console_login', role: session.role, name: session.name }, 'console session started');
      res.writeHead(303, {
        ...securityHeaders,
        location: '/console/',
        'set-cookie': cookie(exchanged.cookie, Math.floor((session.expiresAtMs - deps.clock.now()) / 1000)),
      });
      res.end();
      return;
    }
    const auth = sessions.authenticate(cookieOf(req));
    if (!auth.ok) {
      // Pages go back to sign-in; the API answers 401 so the page's script can do the same. Nothing else is served.
      if (route.startsWith('/console/api/'))
        return json(res, 401, {
          error: {
            code: 'UNAUTHENTICATED',
            message: `no valid console session (${auth.problem})`,
            problem: auth.problem,
          },
        });
      res.writeHead(303, {
        ...securityHeaders,
        location: `/console/login?reason=${auth.problem === 'none' ? 'signin' : auth.problem}`,
      });
      res.end();
      return;
    }
    const session = auth.session;
    try {
      if (method === 'POST') return await post(route, req, res, session);
      if (method !== 'GET' && method !== 'HEAD')
        return json(res, 405, {
          error: { code: 'USAGE', message: 'method not allowed', allowed: ['GET', 'HEAD', 'POST'] },
        });
      if (route === '/console' || route === '/console/') return await asset(res, 'index.html');
      if (route.startsWith('/console/assets/')) return await asset(res, route.slice('/console/assets/'.length));
      if (route === '/console/api/events') {
        if (!events.open(res, session.expiresAtMs))
          json(res, 503, {
            error: { code: 'RESOURCE_EXHAUSTED', message: 'too many open console streams on this node' },
          });
        return;
      }
      if (route.startsWith('/console/api/'))
        return json(res, 200, await get(route.slice('/console/api/'.length), url, session));
      json(res, 404, { error: { code: 'NOT_FOUND', message: `no console page ${route.slice(0, 100)}` } });
    } catch (err) {
      const error = asTriadError(err);
      const status = httpStatusOf(error);
      if (status >= 500) log.error({ err: error, operation: 'console', route }, 'console request failed');
      json(res, status, {
        error: { code: error.code, message: error.detail, ...(error.details ? { details: error.details } : {}) },
      });
    }
  };

  async function get(name: string, url: URL, session: Session): Promise<unknown> {
    switch (name) {
      case 'session':
        return { role: session.role, name: session.name, expiresAtMs: session.expiresAtMs, csrf: session.csrf };
      case 'overview':
        return api.overview();
      case 'matrix':
        return api.matrix();
      case 'gates':
        return api.gates(param(url, 'layer'), param(url, 'instance'), actorOf(session));
      case 'consensus':
        return api.consensus();
      case 'history':
        return api.history(Number(url.searchParams.get('limit') ?? '50'));
      case 'diff':
        return api.diff(Number(param(url, 'from')), Number(param(url, 'to')));
      case 'audit':
        return api.audit();
      case 'alerts':
        return api.alerts();
      case 'rollouts':
        return api.rollouts();
      case 'rollout':
        return api.rollout(param(url, 'name'));
      default:
        throw new TriadError('NOT_FOUND', `no console API "${name.slice(0, 64)}"`);
    }
  }

  async function post(route: string, req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
    // CSRF: every mutation carries the session's token in a header a cross-site form cannot set, from this origin.
    const sent = req.headers[csrfHeader];
    if (typeof sent !== 'string' || !sameSecret(sent, session.csrf))
      return json(res, 403, {
        error: { code: 'PERMISSION_DENIED', message: `missing or wrong ${csrfHeader} header (CSRF)` },
      });
    if (!sameOrigin(req))
      return json(res, 403, { error: { code: 'PERMISSION_DENIED', message: 'cross-origin request refused' } });
    if (route === '/console/api/logout') {
      sessions.logout(session);
      log.info({ operation: 'console_logout', role: session.role, name: session.name }, 'console session ended');
      res.writeHead(200, { ...securityHeaders, 'content-type': 'application/json', 'set-cookie': cookie('', 0) });
      res.end('{"ok":true}\n');
      return;
    }
    if (route !== '/console/api/mutate' && route !== '/console/api/rollout')
      return json(res, 404, { error: { code: 'NOT_FOUND', message: `no console action ${route.slice(0, 100)}` } });
    if (session.role !== 'operator')
      return json(res, 403, {
        error: { code: 'PERMISSION_DENIED', message: `changes need an operator session; this one is ${session.role}` },
      });
    const body = await readJson(req);
    const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
    if (!reason) throw new TriadError('INPUT_INVALID', 'a reason is required for every change made from the console');
    if (route === '/console/api/rollout') {
      // The run's own commands (triad rollout promote|approve|pause|abort|retry), checked before anything is read.
      const action = body.action;
      if (typeof action !== 'string' || !(rolloutActions as readonly string[]).includes(action))
        throw new TriadError('INPUT_INVALID', `action must be one of ${rolloutActions.join(', ')}`);
      if (typeof body.plan !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(body.plan))
        throw new TriadError('INPUT_INVALID', 'plan must be a rollout plan name');
      const run = await api.rolloutAction(body.plan, action as RolloutAction, {
        actor: actorOf(session),
        reason,
        full: body.full === true,
      });
      return json(res, 200, run);
    }
    const result = await api.mutate(body.mutation as MutationInput, {
      actor: actorOf(session),
      reason,
      dryRun: body.dryRun === true,
    });
    json(res, 200, result);
  }

  async function asset(res: ServerResponse, name: string): Promise<void> {
    // Flat folder, known extensions: a name with a slash or dot-dot never reaches the file system.
    const type = assetTypes[path.extname(name)];
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$/.test(name) || !type)
      return json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such asset' } });
    let body: Buffer;
    try {
      body = await readFile(path.join(deps.assetsDir, name));
    } catch {
      return json(res, 404, {
        error: { code: 'NOT_FOUND', message: `no asset ${name} (was the console built? npm run build)` },
      });
    }
    res.writeHead(200, { ...securityHeaders, 'content-type': type });
    res.end(body);
  }
}

/** The audit actor of a console action: the session's role and the certificate name that minted it. */
export function actorOf(session: Pick<Session, 'role' | 'name'>): string {
  return `console:${session.role}/${session.name}`;
}

function cookie(value: string, maxAgeSeconds: number): string {
  return `${sessionCookie}=${value}; Path=/; Max-Age=${Math.max(0, maxAgeSeconds)}; HttpOnly; Secure; SameSite=Strict`;
}

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === sessionCookie) return rest.join('=');
  }
  return undefined;
}

/** A browser sends Origin on every POST; when it does, it must be the host it talks to. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function param(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (!value) throw new TriadError('INPUT_INVALID', `?${name}= is required`);
  return value.slice(0, 64);
}

function reasonText(reason: string | null): string | undefined {
  if (reason === 'expired') return 'Your session has expired. Sign in again.';
  if (reason === 'revoked') return 'You signed out. Sign in again.';
  if (reason === 'signin') return 'Sign in to open the console.';
  if (reason) return 'Your session is not valid. Sign in again.';
  return undefined;
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new TriadError('RESOURCE_EXHAUSTED', `request body over ${maxBodyBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        resolve(parsed as Record<string, unknown>);
      } catch {
        reject(new TriadError('INPUT_INVALID', 'the request body must be a JSON object'));
      }
    });
    req.on('error', reject);
  });
}

function httpStatusOf(error: TriadError): number {
  switch (error.code) {
    case 'INPUT_INVALID':
    case 'USAGE':
    case 'CONFIG_INVALID':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'PERMISSION_DENIED':
      return 403;
    case 'UNAUTHENTICATED':
      return 401;
    case 'GATE_REFUSED':
    case 'LOCK_HELD':
      return 409;
    case 'RESOURCE_EXHAUSTED':
      return 413;
    default:
      return errorKinds[error.code].exit === 1 ? 503 : 500;
  }
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...securityHeaders, 'content-type': 'text/html; charset=utf-8' });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...securityHeaders, 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
