export { createInProcessLiveState } from './in-process.js';
export type { InProcessLiveStateOptions } from './in-process.js';
export { takeFromBucket } from './live-state.js';
export type { BucketParams, BucketState, JsonObject, LiveState, TakeResult } from './live-state.js';
export { createLiveState } from './select.js';
export type { LiveStateOptions } from './select.js';
export { createRedisLiveState, describeRedis } from './redis.js';
export type { RedisLiveStateOptions } from './redis.js';
