/**
 * Time is injected so gate windows, `for:` durations and heartbeat timeouts can be tested without sleeping
 * (STYLE §4). Production code never calls Date.now() or setTimeout for anything a test needs to control.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Monotonic, sub-millisecond time for measuring short intervals (consensus epochs take about a millisecond). */
  monotonicMs(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms` unless the returned cancel function is called first (no AbortController: hot paths). */
  timeout(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
  timeout: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Runs `fn` every `intervalMs` (after each wait, awaiting it before the next) until `signal` aborts; resolves then.
 * The background loops of a node (polls, tickers) share this so stopping one is always the same: abort, await.
 */
export async function repeatEvery(
  clock: Clock,
  intervalMs: number,
  signal: AbortSignal,
  fn: () => unknown,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await clock.sleep(intervalMs, signal);
    } catch {
      return;
    }
    await fn();
  }
}
