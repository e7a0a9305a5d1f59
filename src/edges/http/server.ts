import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ReadinessReport } from '../../health/index.js';
import type { NodeMetrics } from '../../metrics/index.js';
import { TriadError, type Logger } from '../../shared/index.js';

export interface HttpEndpoints {
  instance: string;
  metrics: NodeMetrics;
  readiness: () => ReadinessReport;
  /** Runs before each scrape so gauges derived from time (heartbeat age) are current. */
  beforeScrape: () => void;
  log: Logger;
  /**
   * HTTPS with the node's certificate (which may change: `onChange` is told after a rotation), optionally asking
   * scrapers for a client certificate from the cluster CA. Absent: plain HTTP (config allows it on loopback only).
   */
  tls?: {
    current: () => { ca: Buffer; cert: Buffer; key: Buffer };
    onChange: (listener: () => void) => void;
    requireClientCertificate: boolean;
  };
  /**
   * The operator console (src/console): everything under /console, which does its own sign-in, sessions and CSRF
   * checks. Absent: /console is not found, as before. The bounds above apply to it too.
   */
  console?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/**
 * The HTTP endpoint's bounds (docs/security.md): it serves three small GETs to Prometheus and probes, so a slow or
 * greedy client is cut off early. Node's defaults are a 60 s header timeout, 300 s per request, no connection cap.
 */
export const httpLimits = {
  server: { maxHeaderSize: 8 * 1024 },
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxHeadersCount: 64,
  maxConnections: 128,
} as const;

/** /metrics (Prometheus text), /health (liveness, no I/O) and /ready (readiness with reasons, 503 when not ready). */
export function createHttpServer(endpoints: HttpEndpoints): Server {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(endpoints, req, res).catch((err: unknown) => {
      endpoints.log.error({ err, operation: 'http', path: req.url }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  };
  const { tls } = endpoints;
  const secure = (material: { ca: Buffer; cert: Buffer; key: Buffer }) => ({
    ...material,
    minVersion: 'TLSv1.3' as const,
    requestCert: tls?.requireClientCertificate ?? false,
    rejectUnauthorized: tls?.requireClientCertificate ?? false,
  });
  const server: Server = tls
    ? createHttpsServer({ ...secure(tls.current()), ...httpLimits.server }, listener)
    : createServer(httpLimits.server, listener);
  if (tls) {
    const https = server as unknown as import('node:https').Server;
    tls.onChange(() => https.setSecureContext(secure(tls.current())));
  }
  // Scrapers and probes reconnect often; a short keep-alive keeps idle sockets from piling up.
  server.keepAliveTimeout = httpLimits.keepAliveTimeoutMs;
  server.headersTimeout = httpLimits.headersTimeoutMs;
  server.requestTimeout = httpLimits.requestTimeoutMs;
  server.maxHeadersCount = httpLimits.maxHeadersCount;
  server.maxConnections = httpLimits.maxConnections;
  return server;
}

async function handle(endpoints: HttpEndpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (endpoints.console && (path === '/console' || path.startsWith('/console/'))) {
    await endpoints.console(req, res);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    json(res, 405, { error: 'method not allowed', allowed: ['GET', 'HEAD'] });
    return;
  }
  switch (path) {
    case '/metrics': {
      endpoints.beforeScrape();
      const body = await endpoints.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': endpoints.metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    case '/health':
      json(res, 200, { status: 'ok', instance: endpoints.instance });
      return;
    case '/ready': {
      const report = endpoints.readiness();
      json(res, report.ready ? 200 : 503, { instance: endpoints.instance, ...report });
      return;
    }
    default:
      json(res, 404, { error: 'not found', endpoints: ['/metrics', '/health', '/ready'] });
  }
}

function json(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

export function listenHttp(server: Server, host: string, port: number, instance: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new TriadError(
          'STARTUP_FAILED',
          `${instance}: cannot listen for HTTP on ${host}:${port} (${err.code ?? err.message})${err.code === 'EADDRINUSE' ? ': is another node or program using it?' : ''}`,
          { cause: err },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
