import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { takeFromBucket, type BucketState } from '../../../src/live-state/index.js';

describe('takeFromBucket', () => {
  test('never allows more than capacity plus what the elapsed time refilled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }),
        (capacity, refillPerSecond, gaps) => {
          let state: BucketState | undefined;
          let now = 1_000_000;
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            const step = takeFromBucket(state, { capacity, refillPerSecond }, now);
            state = step.state;
            if (step.result.allowed) allowed++;
            expect(step.state.tokens).toBeGreaterThanOrEqual(0);
            expect(step.state.tokens).toBeLessThanOrEqual(capacity);
          }
          const elapsedSeconds = (now - 1_000_000 - (gaps[0] ?? 0)) / 1000;
          expect(allowed).toBeLessThanOrEqual(capacity + Math.floor(elapsedSeconds * refillPerSecond) + 1);
        },
      ),
    );
  });

  test('a refused take says how long until a whole token is back, and that wait is enough', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (capacity, rate) => {
          let state: BucketState | undefined;
          for (let i = 0; i < capacity; i++)
            state = takeFromBucket(state, { capacity, refillPerSecond: rate }, 0).state;
          const refused = takeFromBucket(state, { capacity, refillPerSecond: rate }, 0);
          expect(refused.result.allowed).toBe(false);
          const later = takeFromBucket(refused.state, { capacity, refillPerSecond: rate }, refused.result.retryAfterMs);
          expect(later.result.allowed).toBe(true);
        },
      ),
    );
  });
});
