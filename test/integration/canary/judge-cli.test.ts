import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createOperationHistoryStore, createPool, type OperationRow } from '../../../src/storage/index.js';
import { runTriad, TestCluster } from '../../fixtures/cluster.js';

// A real three-node cluster (mutual TLS, as the fixture sets up) with no layer active: the only R3 operations in its
// history are the ones seeded here, stamped within the last 10 minutes of the real clock the nodes run on.
describe('triad canary judge against a running cluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ names: ['alpha', 'beta', 'gamma'] });
    const pool = createPool(cluster.databaseUrl, { applicationName: 'triad-test-canary-seed', max: 1 });
    try {
      const now = Date.now();
      const seeded = (instance: string, n: number, ms: (i: number) => number): OperationRow[] =>
        Array.from({ length: n }, (_, i) => ({
          operationId: randomUUID(),
          frameworkId: 'R3_TEST',
          layer: 'R3',
          instance,
          startedAt: now - 10 * 60_000 + i * 1_000,
          durationMs: ms(i),
          burdenSavedHours: 0.5 + (i % 7) / 100,
          success: true,
          errorType: null,
          traceId: null,
          source: 'synthetic',
          cohort: null,
        }));
      // Latencies spread 30…70 ms by a fixed pattern; alpha's are exactly twice its controls'.
      const spread = (i: number): number => 30 + ((i * 37) % 41);
      const store = createOperationHistoryStore(pool);
      await store.insert(seeded('alpha', 200, (i) => 2 * spread(i)));
      await store.insert(seeded('beta', 200, spread));
      await store.insert(seeded('gamma', 200, (i) => spread(i + 3)));
    } finally {
      await pool.end();
    }
    await cluster.waitReady();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a canary twice as slow FAILs with exit 3, effect and samples in --json', async () => {
    const r = await runTriad([
      'canary',
      'judge',
      '--layer',
      'R3',
      '--instance',
      'alpha',
      '--window',
      '1h',
      '--json',
      '--target',
      cluster.instance('alpha').grpc,
      '--config',
      cluster.config.clusterFile,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      verdict: 'FAIL',
      metric: 'latency',
      canary_samples: 200,
      control_samples: 400,
      control: ['beta', 'gamma'],
    });
    expect(out.effect).toBeCloseTo(2, 1);
  });

  test('gamma against beta PASSes with exit 0 and prints a table', async () => {
    const r = await runTriad([
      'canary',
      'judge',
      '--layer',
      'R3',
      '--instance',
      'gamma',
      '--control',
      'beta',
      '--target',
      cluster.instance('beta').grpc,
      '--config',
      cluster.config.clusterFile,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verdict: PASS');
    expect(r.stdout).toContain('samples: canary 200, control 200');
  });

  test('an unknown instance exits 2 with INPUT_INVALID', async () => {
    const r = await runTriad([
      'canary',
      'judge',
      '--layer',
      'R3',
      '--instance',
      'delta',
      '--target',
      cluster.instance('alpha').grpc,
      '--config',
      cluster.config.clusterFile,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[INPUT_INVALID] unknown instance "delta"');
  });

  test('a bad --window exits 2 before calling anyone', async () => {
    const r = await runTriad(['canary', 'judge', '--layer', 'R3', '--instance', 'alpha', '--window', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[INPUT_INVALID] --window must be a duration');
  });
});
