import { expect, test } from 'vitest';
import { Readiness } from '../../../src/health/index.js';

test('not ready until started, then ready only when every check passes, with every reason listed', () => {
  const readiness = new Readiness();
  let peers = [
    { ok: false, reason: 'peer gamma unreachable' },
    { ok: false, reason: 'peer beta unreachable' },
  ];
  readiness.register('peers', () => peers);
  readiness.register('storage', () => ({ ok: true }));
  expect(readiness.evaluate()).toEqual({
    ready: false,
    reasons: ['starting', 'peer gamma unreachable', 'peer beta unreachable'],
    checks: { peers: false, storage: true },
  });
  readiness.markStarted();
  peers = [];
  expect(readiness.evaluate()).toEqual({ ready: true, reasons: [], checks: { peers: true, storage: true } });
});

test('a node that is stopping is not ready, whatever its checks say', () => {
  const readiness = new Readiness();
  readiness.register('peers', () => ({ ok: true }));
  readiness.markStarted();
  expect(readiness.evaluate().ready).toBe(true);
  readiness.markStopping();
  expect(readiness.evaluate()).toEqual({ ready: false, reasons: ['stopping'], checks: { peers: true } });
});

test('a check registered twice is a programming error', () => {
  const readiness = new Readiness();
  readiness.register('peers', () => ({ ok: true }));
  expect(() => readiness.register('peers', () => ({ ok: true }))).toThrow('registered twice');
});
