import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createInProcessLiveState,
  createLiveState,
  createRedisLiveState,
  type LiveState,
} from '../../../src/live-state/index.js';
import { TriadError } from '../../../src/shared/index.js';
import { waitFor } from '../../fixtures/cluster.js';
import { ManualClock } from '../../fixtures/manual-clock.js';
import { deleteKeysUnder, keysUnder, randomKeyPrefix, requireRedis, testRedisUrl } from '../../fixtures/redis.js';

interface Harness {
  /** A handle on the shared state; Redis ones are separate connections, as separate nodes would have. */
  open(): LiveState;
  /** Lets `ms` pass for TTLs: the manual clock in process; real time, polled and bounded, for Redis server time. */
  expireAfter(ms: number, gone: () => Promise<boolean>): Promise<void>;
  cleanup(): Promise<void>;
}

const implementations: [string, () => Promise<Harness>][] = [
  [
    'redis',
    async () => {
      await requireRedis();
      const prefix = randomKeyPrefix();
      const opened: LiveState[] = [];
      return {
        open() {
          const state = createRedisLiveState(testRedisUrl, { keyPrefix: prefix });
          opened.push(state);
          return state;
        },
        async expireAfter(ms, gone) {
          await waitFor(gone, ms + 2_000, `an entry to expire after ${ms} ms of Redis server time`);
        },
        async cleanup() {
          await Promise.all(opened.map((s) => s.close()));
          await deleteKeysUnder(prefix);
        },
      };
    },
  ],
  [
    'in-process',
    () => {
      const clock = new ManualClock();
      const state = createInProcessLiveState({ clock });
      return Promise.resolve({
        open: () => state,
        async expireAfter(ms, gone) {
          await clock.advance(ms);
          expect(await gone()).toBe(true);
        },
        cleanup: () => state.close(),
      });
    },
  ],
];

describe.each(implementations)('live state contract: %s', (_name, create) => {
  let harness: Harness;
  let state: LiveState;

  beforeEach(async () => {
    harness = await create();
    state = harness.open();
  });

  afterEach(async () => {
    await harness.cleanup();
  });

  test('consensus_state keeps the latest value per instance, as a copy', async () => {
    const value = { epoch: 1, amplification: { R2: 2.07 } };
    await state.putConsensusState('alpha', value);
    await state.putConsensusState('beta', { epoch: 1, amplification: { R2: 2.1 } });
    value.epoch = 99; // mutating the caller's object afterwards changes nothing stored
    await state.putConsensusState('alpha', { epoch: 2, amplification: { R2: 2.08 } });
    expect(await state.getConsensusState()).toEqual({
      alpha: { epoch: 2, amplification: { R2: 2.08 } },
      beta: { epoch: 1, amplification: { R2: 2.1 } },
    });
  });

  test('health_status entries vanish once their TTL has passed; a longer one stays', async () => {
    await state.putHealth('alpha', { ready: true }, 60_000);
    await state.putHealth('beta', { ready: false, reasons: ['peer gamma unreachable'] }, 200);
    expect(await state.getHealth()).toEqual({
      alpha: { ready: true },
      beta: { ready: false, reasons: ['peer gamma unreachable'] },
    });
    await harness.expireAfter(200, async () => !('beta' in (await state.getHealth())));
    expect(await state.getHealth()).toEqual({ alpha: { ready: true } });
  });

  test('a health TTL must be a positive integer', async () => {
    const err = await state.putHealth('alpha', {}, 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TriadError);
    expect((err as TriadError).message).toMatchInlineSnapshot(
      `"[INPUT_INVALID] health of "alpha": ttlMs must be a positive integer, received 0"`,
    );
  });

  test('active_operations counts what began and has not ended', async () => {
    await state.beginOperation('op-1', { framework: 'R1_BASE', layer: 'R1' });
    await state.beginOperation('op-2', { framework: 'R2_BRIDGE', layer: 'R2' });
    await state.endOperation('op-1');
    await state.endOperation('never-began');
    expect(await state.activeOperations()).toBe(1);
    expect(await state.listActiveOperations()).toEqual({ 'op-2': { framework: 'R2_BRIDGE', layer: 'R2' } });
  });

  test('token bucket: exactly capacity, then refusals with retryAfterMs, then refill by rate', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const bucket = { capacity: 3, refillPerSecond: 2 };
    const takes = [];
    for (let i = 0; i < 4; i++) takes.push(await state.takeToken('admin:alpha', bucket, t0));
    expect(takes).toEqual([
      { allowed: true, granted: 1, remaining: 2, retryAfterMs: 0 },
      { allowed: true, granted: 1, remaining: 1, retryAfterMs: 0 },
      { allowed: true, granted: 1, remaining: 0, retryAfterMs: 0 },
      { allowed: false, granted: 0, remaining: 0, retryAfterMs: 500 },
    ]);
    expect(await state.takeToken('admin:alpha', bucket, t0 + 300)).toEqual({
      allowed: false,
      granted: 0,
      remaining: 0,
      retryAfterMs: 200,
    });
    expect(await state.takeToken('admin:alpha', bucket, t0 + 500)).toEqual({
      allowed: true,
      granted: 1,
      remaining: 0,
      retryAfterMs: 0,
    });
    // A long idle refills to capacity, never beyond it.
    const afterIdle = [];
    for (let i = 0; i < 4; i++) afterIdle.push((await state.takeToken('admin:alpha', bucket, t0 + 60_000)).allowed);
    expect(afterIdle).toEqual([true, true, true, false]);
    // Buckets are independent.
    expect(await state.takeToken('admin:beta', bucket, t0)).toEqual({
      allowed: true,
      granted: 1,
      remaining: 2,
      retryAfterMs: 0,
    });
  });

  test('token bucket: time going backwards refills nothing', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const bucket = { capacity: 1, refillPerSecond: 1 };
    expect((await state.takeToken('skew', bucket, t0)).allowed).toBe(true);
    expect(await state.takeToken('skew', bucket, t0 - 5_000)).toEqual({
      allowed: false,
      granted: 0,
      remaining: 0,
      retryAfterMs: 1_000,
    });
  });

  test('token bucket on the implementation clock: a fresh bucket allows its first take', async () => {
    const bucket = { capacity: 2, refillPerSecond: 0.001 };
    expect(await state.takeToken('own-clock', bucket)).toEqual({
      allowed: true,
      granted: 1,
      remaining: 1,
      retryAfterMs: 0,
    });
    expect(await state.takeToken('own-clock', bucket)).toEqual({
      allowed: true,
      granted: 1,
      remaining: 0,
      retryAfterMs: 0,
    });
    const refused = await state.takeToken('own-clock', bucket);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(990_000); // 1 token at 0.001/s ≈ 1000 s
  });

  test('50 parallel takes against capacity 10, from five handles, allow exactly 10', async () => {
    const handles = [state, ...Array.from({ length: 4 }, () => harness.open())];
    const bucket = { capacity: 10, refillPerSecond: 0.001 };
    const t0 = Date.UTC(2026, 0, 1);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => handles[i % handles.length]!.takeToken('burst', bucket, t0)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.filter((r) => !r.allowed).every((r) => r.retryAfterMs > 0)).toBe(true);
    expect(
      results
        .filter((r) => r.allowed)
        .map((r) => r.remaining)
        .sort((a, b) => a - b),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('takeTokens grants a batch in one atomic step: all, or as many whole tokens as there are', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const bucket = { capacity: 5, refillPerSecond: 2 };
    expect(await state.takeTokens('batch', bucket, 3, t0)).toEqual({
      allowed: true,
      granted: 3,
      remaining: 2,
      retryAfterMs: 0,
    });
    expect(await state.takeTokens('batch', bucket, 4, t0)).toEqual({
      allowed: false,
      granted: 2,
      remaining: 0,
      retryAfterMs: 500,
    });
    expect(await state.takeTokens('batch', bucket, 4, t0 + 1_000)).toEqual({
      allowed: false,
      granted: 2,
      remaining: 0,
      retryAfterMs: 500,
    });
    // Concurrent batches from several handles never grant more than the bucket holds.
    const handles = [state, ...Array.from({ length: 3 }, () => harness.open())];
    const grants = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        handles[i % handles.length]!.takeTokens('batch-race', { capacity: 20, refillPerSecond: 0.001 }, 3, t0),
      ),
    );
    expect(grants.reduce((sum, g) => sum + g.granted, 0)).toBe(20);
    await expect(state.takeTokens('batch', bucket, 0, t0)).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });

  test('bad bucket parameters are refused naming the limiter', async () => {
    const err = await state.takeToken('admin', { capacity: 0, refillPerSecond: 1 }).catch((e: unknown) => e);
    expect((err as TriadError).message).toMatchInlineSnapshot(
      `"[INPUT_INVALID] rate limiter "admin": capacity must be an integer ≥ 1, received 0"`,
    );
  });
});

describe('redis live state specifics', () => {
  test('keys are namespaced under the prefix', async () => {
    await requireRedis();
    const prefix = randomKeyPrefix();
    const state = createRedisLiveState(testRedisUrl, { keyPrefix: prefix });
    try {
      await state.putConsensusState('alpha', { epoch: 1 });
      await state.putHealth('alpha', { ready: true }, 60_000);
      await state.beginOperation('op-1', {});
      await state.takeToken('admin', { capacity: 1, refillPerSecond: 1 });
      expect(await keysUnder(prefix)).toEqual(
        [
          `${prefix}active_operations`,
          `${prefix}consensus_state`,
          `${prefix}health_status`,
          `${prefix}rate_limiters:admin`,
        ].sort(),
      );
    } finally {
      await state.close();
      await deleteKeysUnder(prefix);
    }
  });

  test('an unreachable Redis fails with STORAGE_UNAVAILABLE naming host:port, never the password', async () => {
    const state = createRedisLiveState('redis://:hunter2@127.0.0.1:1/0', { keyPrefix: randomKeyPrefix() });
    try {
      const err = await state.getConsensusState().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TriadError);
      expect((err as TriadError).code).toBe('STORAGE_UNAVAILABLE');
      expect((err as TriadError).message).toMatch(
        /^\[STORAGE_UNAVAILABLE\] cannot reach Redis at 127\.0\.0\.1:1\/0 \(consensus_state\): /,
      );
      expect((err as TriadError).message).not.toContain('hunter2');
    } finally {
      await state.close();
    }
  });

  test('createLiveState picks Redis when a URL is given, else in process', async () => {
    await requireRedis();
    const prefix = randomKeyPrefix();
    const redis = createLiveState({ redisUrl: testRedisUrl, keyPrefix: prefix });
    // The same prefix without a URL: were it Redis after all (a default URL), its writes would land beside the others.
    const local = createLiveState({ keyPrefix: prefix });
    const elsewhere = createRedisLiveState(testRedisUrl, { keyPrefix: prefix });
    try {
      expect([redis.kind, local.kind]).toEqual(['redis', 'in-process']);
      await redis.putConsensusState('alpha', { epoch: 1 });
      await local.putConsensusState('beta', { epoch: 2 });
      await local.beginOperation('op-local', {});
      expect(await keysUnder(prefix)).toEqual([`${prefix}consensus_state`]);
      // What went through the Redis one is there for another connection; what went through the local one is not.
      expect(await elsewhere.getConsensusState()).toEqual({ alpha: { epoch: 1 } });
      expect(await local.getConsensusState()).toEqual({ beta: { epoch: 2 } });
    } finally {
      await redis.close();
      await local.close();
      await elsewhere.close();
      await deleteKeysUnder(prefix);
    }
  });
});
