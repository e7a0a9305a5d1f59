import type { Clock } from '../shared/index.js';

export interface ReadyProbeResult {
  ready: boolean;
  reasons: string[];
}

/** GET /ready on a node; a refused connection is "not listening yet", not an error. */
export async function probeReady(httpAddress: string, timeoutMs = 1_000): Promise<ReadyProbeResult> {
  try {
    const res = await fetch(`http://${httpAddress}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { ready?: boolean; reasons?: string[] };
    return { ready: res.ok && body.ready === true, reasons: body.reasons ?? [] };
  } catch {
    return { ready: false, reasons: ['not listening yet'] };
  }
}

export interface WaitForReadyOptions {
  nodes: readonly { name: string; httpAddress: string }[];
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
      options.nodes.map(async (n) => [n.name, await probeReady(n.httpAddress)] as const),
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
