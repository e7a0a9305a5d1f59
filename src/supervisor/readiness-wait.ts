import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../shared/index.js';

export interface ReadyProbeResult {
  ready: boolean;
  reasons: string[];
}

/** How to reach a node's /ready: plain HTTP, or HTTPS checked against the cluster CA (with a client certificate). */
export type ReadyTransport = { https: false } | { https: true; ca: Buffer; cert?: Buffer; key?: Buffer };

/** GET /ready on a node; a refused connection is "not listening yet", not an error. */
export function probeReady(
  httpAddress: string,
  transport: ReadyTransport = { https: false },
  timeoutMs = 1_000,
): Promise<ReadyProbeResult> {
  const url = `${transport.https ? 'https' : 'http'}://${httpAddress}/ready`;
  const notYet: ReadyProbeResult = { ready: false, reasons: ['not listening yet'] };
  return new Promise((resolve) => {
    const options = {
      timeout: timeoutMs,
      ...(transport.https ? { ca: transport.ca, cert: transport.cert, key: transport.key } : {}),
    };
    const req = (transport.https ? httpsRequest : httpRequest)(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          const parsed = JSON.parse(body) as { ready?: boolean; reasons?: string[] };
          resolve({ ready: res.statusCode === 200 && parsed.ready === true, reasons: parsed.reasons ?? [] });
        } catch {
          resolve(notYet);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(notYet));
    req.end();
  });
}

export interface WaitForReadyOptions {
  nodes: readonly { name: string; httpAddress: string; transport?: ReadyTransport }[];
  timeoutMs: number;
  clock: Clock;
  /** Called whenever the set of waiting nodes or their reasons change. */
  onProgress: (waiting: Record<string, string[]>) => void;
  pollMs?: number;
  signal?: AbortSignal;
}

/** Polls every node's /ready until all are ready; resolves with the reasons of those still not ready at the deadline. */
export async function waitForReady(options: WaitForReadyOptions): Promise<Record<string, string[]>> {
  const deadline = options.clock.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    const results = await Promise.all(
      options.nodes.map(async (n) => [n.name, await probeReady(n.httpAddress, n.transport)] as const),
    );
    const waiting = Object.fromEntries(results.filter(([, r]) => !r.ready).map(([name, r]) => [name, r.reasons]));
    const summary = JSON.stringify(waiting);
    if (summary !== last) {
      last = summary;
      options.onProgress(waiting);
    }
    if (Object.keys(waiting).length === 0 || options.clock.now() >= deadline || options.signal?.aborted) return waiting;
    await options.clock.sleep(options.pollMs ?? 200);
  }
}
