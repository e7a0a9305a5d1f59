import type { Clock, Logger } from '../shared/index.js';
import { createInProcessLiveState } from './in-process.js';
import type { LiveState } from './live-state.js';
import { createRedisLiveState } from './redis.js';

export interface LiveStateOptions {
  /** RuntimeEnv.redisUrl: set → Redis, shared by every node; unset → in this process only (one machine). */
  redisUrl?: string;
  /** Default "triad:". */
  keyPrefix?: string;
  /** For rediss:// with a private CA (RuntimeEnv.redisCa, from TRIAD_REDIS_CA). */
  tlsCa?: Buffer;
  clock?: Clock;
  log?: Pick<Logger, 'warn' | 'info'>;
}

/** The one place that decides between the two implementations (DESIGN §2). */
export function createLiveState(options: LiveStateOptions): LiveState {
  if (options.redisUrl) {
    return createRedisLiveState(options.redisUrl, {
      keyPrefix: options.keyPrefix ?? 'triad:',
      ...(options.tlsCa ? { tlsCa: options.tlsCa } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  }
  return createInProcessLiveState(options.clock ? { clock: options.clock } : {});
}
