import { describe, expect, test } from 'vitest';
import {
  expiredPartitions,
  judgeAlerts,
  judgeBackup,
  judgeCertificates,
  judgeClockSkew,
  judgeConsensus,
  judgeMigrations,
  judgeNodes,
  precheckExitCode,
  type NodeFact,
} from '../../../src/operations/index.js';

const node = (name: string, over: Partial<Extract<NodeFact, { reachable: true }>> = {}): NodeFact => ({
  name,
  reachable: true,
  ready: true,
  reasons: [],
  version: '0.1.0',
  appliedVersion: 3,
  clockOffsetMs: 0,
  rttMs: 2,
  consensus: { hasEpoch: true, converged: true, error: 0.001, lastEpochAtMs: 1 },
  ...over,
});

describe('precheck judges', () => {
  test('a stopped node fails reachability and names it; warnings alone still exit 0', () => {
    const results = judgeNodes(
      [node('alpha'), node('beta'), { name: 'gamma', reachable: false, error: 'connect refused' }],
      '0.1.0',
    );
    expect(results[0]).toEqual({
      id: 'nodes_reachable',
      status: 'FAIL',
      value: '2/3 reachable',
      detail: 'gamma: connect refused',
    });
    expect(precheckExitCode(results)).toBe(1);
    expect(precheckExitCode([{ id: 'backup_age', status: 'WARN', value: 'never' }])).toBe(0);
  });

  test('mixed versions fail; a CLI of another version only warns', () => {
    expect(judgeNodes([node('a'), node('b', { version: '0.2.0' })], '0.1.0')[2]?.status).toBe('FAIL');
    expect(judgeNodes([node('a')], '0.9.0')[2]).toMatchObject({ status: 'WARN' });
  });

  test('clock skew is judged after the round-trip uncertainty', () => {
    expect(judgeClockSkew([node('a'), node('b', { clockOffsetMs: 900 })], 500).status).toBe('FAIL');
    // 600 ms apart, but each reading is uncertain by ±100 ms: 400 ms for sure, within 500.
    expect(judgeClockSkew([node('a', { rttMs: 200 }), node('b', { clockOffsetMs: 600 })], 500).status).toBe('PASS');
  });

  test('consensus fails above the gate or when nodes applied different versions', () => {
    expect(
      judgeConsensus(
        [node('a', { consensus: { hasEpoch: true, converged: true, error: 0.02, lastEpochAtMs: 1 } })],
        0.01,
      ).status,
    ).toBe('FAIL');
    expect(judgeConsensus([node('a'), node('b', { appliedVersion: 2 })], 0.01).detail).toBe(
      'nodes applied different versions: a v3, b v2',
    );
    expect(judgeConsensus([node('a')], 0.01).status).toBe('PASS');
  });

  test('migrations, certificates, backups and alerts', () => {
    expect(judgeMigrations({ applied: [1, 2], pending: ['004_x.sql'], unknown: [], changed: [] }).detail).toBe(
      'pending: 004_x.sql (run triad migrate)',
    );
    const now = Date.UTC(2030, 0, 1);
    expect(judgeCertificates([{ file: 'ca.crt', notAfterMs: now + 10 * 86_400_000 }], now, 30).status).toBe('FAIL');
    expect(judgeCertificates([{ file: 'ca.crt', notAfterMs: now + 400 * 86_400_000 }], now, 30).status).toBe('PASS');
    expect(judgeBackup({ takenAt: new Date(now - 2 * 3_600_000) }, now, 3_600_000)).toMatchObject({
      status: 'WARN',
      value: '120 min old',
    });
    expect(
      judgeAlerts([{ alert: 'ConsensusError', severity: 'critical', action: null, layer: null, instance: null }])
        .status,
    ).toBe('FAIL');
    expect(
      judgeAlerts([{ alert: 'Slow', severity: 'warning', action: null, layer: 'R3', instance: 'beta' }]),
    ).toMatchObject({ status: 'WARN', detail: 'Slow R3@beta' });
  });
});

describe('retention', () => {
  test('a day is dropped only once all of it is older than the retention', () => {
    const names = ['operation_history_p20300101', 'operation_history_p20300102', 'operation_history_default'];
    const now = Date.UTC(2030, 3, 2, 12); // 2 April 2030 noon; 90 days before: 2 January noon
    expect(expiredPartitions(names, now, 90 * 86_400_000)).toEqual(['operation_history_p20300101']);
  });
});
