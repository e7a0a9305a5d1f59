import { TriadError } from '../shared/index.js';

/** A JSON object as stored: what goes in comes back as a copy, through JSON, in both implementations. */
export type JsonObject = Record<string, unknown>;

export interface BucketParams {
  /** Burst size: how many takes a full bucket allows at once. Integer ≥ 1. */
  capacity: number;
  /** Tokens added per second, continuously (fractions accrue). > 0. */
  refillPerSecond: number;
}

export interface TakeResult {
  /** Every token asked for was taken. */
  allowed: boolean;
  /** Tokens taken (all asked for, or as many whole tokens as the bucket held). */
  granted: number;
  /** Whole tokens left after this take. */
  remaining: number;
  /** 0 when allowed; else how long until one whole token is back. */
  retryAfterMs: number;
}

/**
 * Fast-changing, shared, lossy state (DESIGN §2): Redis when REDIS_URL is set, else in this process. Nothing here is
 * the source of truth (PostgreSQL is); losing it costs a refresh, not data.
 */
export interface LiveState {
  readonly kind: 'redis' | 'in-process';
  /** consensus_state: each instance's latest consensus vector, overwritten per epoch. */
  putConsensusState(instance: string, value: object): Promise<void>;
  getConsensusState(): Promise<Record<string, JsonObject>>;
  /** health_status: an entry vanishes ttlMs after it was put unless put again (a heartbeat). */
  putHealth(instance: string, status: object, ttlMs: number): Promise<void>;
  /** Entries whose TTL has run out are absent. */
  getHealth(): Promise<Record<string, JsonObject>>;
  /** active_operations: operations in flight; ending an unknown id is a no-op. */
  beginOperation(id: string, info: object): Promise<void>;
  endOperation(id: string): Promise<void>;
  activeOperations(): Promise<number>;
  listActiveOperations(): Promise<Record<string, JsonObject>>;
  /**
   * rate_limiters: takes one token from the bucket `key`, atomically. `nowMs` overrides the implementation's clock
   * (the injected Clock in process, Redis server time in Redis); tests pass it to make refill deterministic.
   */
  takeToken(key: string, params: BucketParams, nowMs?: number): Promise<TakeResult>;
  /**
   * Takes up to `count` tokens in one atomic step: as many whole tokens as the bucket holds, at most `count`
   * (`granted`). One round trip for a batch instead of one per item.
   */
  takeTokens(key: string, params: BucketParams, count: number, nowMs?: number): Promise<TakeResult>;
  close(): Promise<void>;
}

export interface BucketState {
  tokens: number;
  updatedMs: number;
}

/**
 * The token bucket, pure: refill by elapsed time (never beyond capacity, never backwards if time does), then take one
 * whole token if there is one. The Redis Lua script (redis-scripts.ts) is this function line for line; the contract
 * suite runs both against the same expectations.
 */
export function takeFromBucket(
  state: BucketState | undefined,
  params: BucketParams,
  nowMs: number,
  count = 1,
): { state: BucketState; result: TakeResult } {
  const { capacity, refillPerSecond } = params;
  let tokens = capacity;
  let updatedMs = nowMs;
  if (state) {
    const elapsedMs = Math.max(0, nowMs - state.updatedMs);
    tokens = Math.min(capacity, state.tokens + (elapsedMs * refillPerSecond) / 1000);
    updatedMs = Math.max(state.updatedMs, nowMs);
  }
  const granted = Math.min(count, Math.floor(tokens));
  tokens -= granted;
  if (granted === count) {
    return {
      state: { tokens, updatedMs },
      result: { allowed: true, granted, remaining: Math.floor(tokens), retryAfterMs: 0 },
    };
  }
  const retryAfterMs = Math.ceil(((1 - tokens) * 1000) / refillPerSecond);
  return { state: { tokens, updatedMs }, result: { allowed: false, granted, remaining: 0, retryAfterMs } };
}

export function validateBucket(key: string, params: BucketParams): void {
  if (!Number.isInteger(params.capacity) || params.capacity < 1) {
    throw new TriadError(
      'INPUT_INVALID',
      `rate limiter "${key}": capacity must be an integer ≥ 1, received ${params.capacity}`,
    );
  }
  if (!Number.isFinite(params.refillPerSecond) || params.refillPerSecond <= 0) {
    throw new TriadError(
      'INPUT_INVALID',
      `rate limiter "${key}": refillPerSecond must be a positive number, received ${params.refillPerSecond}`,
    );
  }
}

export function validateCount(key: string, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new TriadError(
      'INPUT_INVALID',
      `rate limiter "${key}": count must be an integer from 1 to 1000000, received ${count}`,
    );
  }
}

export function validateTtl(instance: string, ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new TriadError(
      'INPUT_INVALID',
      `health of "${instance}": ttlMs must be a positive integer, received ${ttlMs}`,
    );
  }
}

/** The JSON copy both implementations store, so a caller mutating its object later changes nothing stored. */
export function toJson(what: string, value: object): string {
  const text = JSON.stringify(value);
  if (typeof text !== 'string' || !text.startsWith('{')) {
    throw new TriadError('INPUT_INVALID', `${what}: expected a JSON object`);
  }
  return text;
}
