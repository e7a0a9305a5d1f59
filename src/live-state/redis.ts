import { Redis } from 'ioredis';
import { TriadError, type Logger } from '../shared/index.js';
import {
  toJson,
  validateBucket,
  validateCount,
  validateTtl,
  type BucketParams,
  type JsonObject,
  type LiveState,
  type TakeResult,
} from './live-state.js';
import { getHealthLua, putHealthLua, takeTokenLua } from './redis-scripts.js';

export interface RedisLiveStateOptions {
  /** Prepended to every key ("triad:" → triad:consensus_state): several clusters or test runs can share one Redis. */
  keyPrefix: string;
  log?: Pick<Logger, 'warn' | 'info'>;
  /** For a rediss:// URL: the CA the server's certificate must chain to (PEM), when not a system CA. */
  tlsCa?: Buffer;
}

/** The scripts registered with defineCommand; ioredis sends EVALSHA and falls back to EVAL once per connection. */
interface ScriptCommands {
  triadTakeToken(
    key: string,
    capacity: number,
    refillPerSecond: number,
    nowMs: string,
    count: number,
  ): Promise<[number, number, number]>;
  triadPutHealth(key: string, instance: string, ttlMs: number, json: string): Promise<number>;
  triadGetHealth(key: string): Promise<string[]>;
}

/**
 * LiveState in Redis (DESIGN §2). Keys: <prefix>consensus_state, <prefix>health_status and <prefix>active_operations
 * (hashes keyed by instance or operation id), and <prefix>rate_limiters:<key> (one hash per bucket, expiring when full).
 */
export function createRedisLiveState(url: string, options: RedisLiveStateOptions): LiveState {
  const target = describeRedis(url);
  const redis = new Redis(url, {
    // Fail a command after one reconnect attempt instead of queueing callers for seconds behind a dead server:
    // live state is an optimisation, and callers fall back or report STORAGE_UNAVAILABLE.
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    lazyConnect: false,
    // rediss:// turns TLS on (ioredis); the server's certificate is checked against this CA, or the system's.
    ...(options.tlsCa && url.startsWith('rediss:') ? { tls: { ca: options.tlsCa } } : {}),
  });
  let reported = false;
  // Without a listener ioredis prints every failed reconnect to the console; log the first of each outage only.
  redis.on('error', (err: Error) => {
    if (!reported) options.log?.warn({ err, operation: 'live_state', target }, 'Redis unreachable; retrying');
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) options.log?.info({ operation: 'live_state', target }, 'Redis reachable again');
    reported = false;
  });
  redis.defineCommand('triadTakeToken', { numberOfKeys: 1, lua: takeTokenLua });
  redis.defineCommand('triadPutHealth', { numberOfKeys: 1, lua: putHealthLua });
  redis.defineCommand('triadGetHealth', { numberOfKeys: 1, lua: getHealthLua });
  const scripts = redis as unknown as ScriptCommands;

  const key = (name: string) => `${options.keyPrefix}${name}`;
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw explain(target, what, err);
    }
  };
  const parseAll = (flat: Record<string, string>): Record<string, JsonObject> =>
    Object.fromEntries(Object.entries(flat).map(([k, v]) => [k, JSON.parse(v) as JsonObject]));

  const take = async (bucket: string, params: BucketParams, count: number, nowMs?: number): Promise<TakeResult> => {
    validateBucket(bucket, params);
    validateCount(bucket, count);
    const [granted, remaining, retryAfterMs] = await call('rate_limiters', () =>
      scripts.triadTakeToken(
        key(`rate_limiters:${bucket}`),
        params.capacity,
        params.refillPerSecond,
        nowMs === undefined ? '' : String(Math.floor(nowMs)),
        count,
      ),
    );
    return { allowed: granted === count, granted, remaining, retryAfterMs };
  };
  return {
    kind: 'redis',
    async putConsensusState(instance, value) {
      const json = toJson(`consensus state of "${instance}"`, value);
      await call('consensus_state', () => redis.hset(key('consensus_state'), instance, json));
    },
    async getConsensusState() {
      return parseAll(await call('consensus_state', () => redis.hgetall(key('consensus_state'))));
    },
    async putHealth(instance, status, ttlMs) {
      validateTtl(instance, ttlMs);
      const json = toJson(`health of "${instance}"`, status);
      await call('health_status', () => scripts.triadPutHealth(key('health_status'), instance, ttlMs, json));
    },
    async getHealth() {
      const flat = await call('health_status', () => scripts.triadGetHealth(key('health_status')));
      const result: Record<string, JsonObject> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) result[flat[i]!] = JSON.parse(flat[i + 1]!) as JsonObject;
      return result;
    },
    async beginOperation(id, info) {
      const json = toJson(`operation "${id}"`, info);
      await call('active_operations', () => redis.hset(key('active_operations'), id, json));
    },
    async endOperation(id) {
      await call('active_operations', () => redis.hdel(key('active_operations'), id));
    },
    async activeOperations() {
      return call('active_operations', () => redis.hlen(key('active_operations')));
    },
    async listActiveOperations() {
      return parseAll(await call('active_operations', () => redis.hgetall(key('active_operations'))));
    },
    takeToken: (bucket, params, nowMs) => take(bucket, params, 1, nowMs),
    takeTokens: (bucket, params, count, nowMs) => take(bucket, params, count, nowMs),
    async close() {
      try {
        await redis.quit();
      } catch {
        redis.disconnect(); // not connected: nothing to say goodbye to
      }
    },
  };
}

/** host:port/db for messages; never the password. */
export function describeRedis(url: string): string {
  try {
    const parsed = new URL(url);
    const db = parsed.pathname.replace(/^\//, '') || '0';
    return `${parsed.hostname || 'localhost'}:${parsed.port || '6379'}/${db}`;
  } catch {
    return '(unparsable Redis URL)';
  }
}

function explain(target: string, what: string, err: unknown): TriadError {
  if (err instanceof TriadError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A ReplyError is Redis answering with an error (a bug here, e.g. a bad script): the server itself is fine.
  if (err instanceof Error && err.name === 'ReplyError') {
    return new TriadError('INTERNAL', `Redis at ${target} rejected a ${what} command: ${message}`, { cause: err });
  }
  return new TriadError('STORAGE_UNAVAILABLE', `cannot reach Redis at ${target} (${what}): ${message}`, { cause: err });
}
