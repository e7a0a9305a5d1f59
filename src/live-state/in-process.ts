import { systemClock, type Clock } from '../shared/index.js';
import {
  takeFromBucket,
  toJson,
  validateBucket,
  validateCount,
  validateTtl,
  type BucketParams,
  type BucketState,
  type JsonObject,
  type LiveState,
} from './live-state.js';

export interface InProcessLiveStateOptions {
  /** Decides TTL expiry and bucket refill; tests inject a ManualClock so nothing sleeps. */
  clock?: Clock;
}

/**
 * LiveState for a single machine without Redis (DESIGN §2): the same interface and semantics, shared by whatever runs in
 * this process only. Values are kept as JSON text so callers get copies, as they would from Redis.
 */
export function createInProcessLiveState(options: InProcessLiveStateOptions = {}): LiveState {
  const clock = options.clock ?? systemClock;
  const consensus = new Map<string, string>();
  const health = new Map<string, { json: string; expiresAtMs: number }>();
  const operations = new Map<string, string>();
  const buckets = new Map<string, BucketState>();

  const parseAll = (entries: Iterable<[string, string]>): Record<string, JsonObject> =>
    Object.fromEntries([...entries].map(([k, v]) => [k, JSON.parse(v) as JsonObject]));

  const take = (key: string, params: BucketParams, count: number, nowMs?: number) =>
    settle(() => {
      validateBucket(key, params);
      validateCount(key, count);
      // Synchronous read-modify-write: nothing can interleave inside one call on the event loop, so it is atomic.
      const { state, result } = takeFromBucket(buckets.get(key), params, nowMs ?? clock.now(), count);
      buckets.set(key, state);
      return result;
    });
  return {
    kind: 'in-process',
    putConsensusState: (instance, value) =>
      settle(() => void consensus.set(instance, toJson(`consensus state of "${instance}"`, value))),
    getConsensusState: () => settle(() => parseAll(consensus)),
    putHealth: (instance, status, ttlMs) =>
      settle(() => {
        validateTtl(instance, ttlMs);
        health.set(instance, { json: toJson(`health of "${instance}"`, status), expiresAtMs: clock.now() + ttlMs });
      }),
    getHealth: () =>
      settle(() => {
        const now = clock.now();
        for (const [instance, entry] of health) if (entry.expiresAtMs <= now) health.delete(instance);
        return parseAll([...health].map(([k, v]) => [k, v.json]));
      }),
    beginOperation: (id, info) => settle(() => void operations.set(id, toJson(`operation "${id}"`, info))),
    endOperation: (id) => settle(() => void operations.delete(id)),
    activeOperations: () => settle(() => operations.size),
    listActiveOperations: () => settle(() => parseAll(operations)),
    takeToken: (key, params, nowMs) => take(key, params, 1, nowMs),
    takeTokens: (key, params, count, nowMs) => take(key, params, count, nowMs),
    close: () => settle(() => undefined),
  };
}

/** Runs fn now and reports through a promise, so bad input rejects as it does over the wire instead of throwing. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
