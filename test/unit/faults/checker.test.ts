import { describe, expect, test } from 'vitest';
import { checkHistory, type CheckName } from '../../faults/checker.js';
import type { History, MutationCall, StatePoll } from '../../faults/history.js';

// The fault suite's checker on hand-made histories: a clean one passes, and each claim it checks fails on a history
// that breaks exactly that claim, naming the calls and versions involved.

const nodes = ['alpha', 'beta', 'gamma'];

function mutation(n: number, extra: Partial<MutationCall> = {}): MutationCall {
  return {
    client: 'op1',
    correlationId: `c${n}`,
    kind: 'activate',
    target: 'alpha',
    invokeMs: 1_000 + n * 100,
    completeMs: 1_050 + n * 100,
    outcome: 'ok',
    version: n,
    ...extra,
  };
}

function poll(node: string, atMs: number, appliedVersion: number, extra: Partial<StatePoll> = {}): StatePoll {
  return {
    node,
    atMs,
    answered: true,
    startedAtMs: 1,
    appliedVersion,
    leader: node === 'alpha',
    ready: true,
    reasons: [],
    consensusError: 0,
    unreachable: [],
    ...extra,
  };
}

/** Three changes, gamma partitioned from 2 000 to 4 000 ms and reported at 2 500, all on v3 by 4 500. */
function cleanHistory(): History {
  return {
    nodes,
    mutations: [mutation(1), mutation(2), mutation(3)],
    ingests: [
      {
        client: 'i1',
        operationIds: ['a', 'b'],
        invokeMs: 1_000,
        completeMs: 1_100,
        outcome: 'ok',
        accepted: ['a', 'b'],
        attempts: 1,
      },
      {
        client: 'i1',
        operationIds: ['c'],
        invokeMs: 1_200,
        completeMs: 1_300,
        outcome: 'failed',
        accepted: [],
        attempts: 1,
        error: 'refused',
      },
      {
        client: 'i1',
        operationIds: ['d'],
        invokeMs: 1_400,
        completeMs: 3_300,
        outcome: 'unknown',
        accepted: [],
        attempts: 5,
      },
    ],
    polls: [
      ...nodes.map((n) => poll(n, 1_500, 3)),
      poll('alpha', 2_500, 3, { unreachable: ['gamma'], ready: false, reasons: ['peer gamma unreachable'] }),
      ...nodes.map((n) => poll(n, 4_500, 3)),
    ],
    versions: [1, 2, 3].map((v) => ({ version: v, correlationId: `c${v}` })),
    audit: [1, 2, 3].map((v) => ({ correlationId: `c${v}`, beforeVersion: v - 1, afterVersion: v })),
    epochs: [
      { epochId: 'alpha-x-1', initiator: 'alpha', measuredAtMs: 1_000 },
      { epochId: 'alpha-x-2', initiator: 'alpha', measuredAtMs: 2_000 },
      { epochId: 'beta-y-1', initiator: 'beta', measuredAtMs: 3_500 },
      { epochId: 'gamma-z-1', initiator: 'gamma', measuredAtMs: 3_600 },
    ],
    forcedSyncs: [{ node: 'gamma', invokeMs: 3_590, completeMs: 3_700, epochId: 'gamma-z-1' }],
    leaderSpans: [
      { node: 'alpha', fromMs: 0, toMs: 3_000 },
      { node: 'beta', fromMs: 3_200, toMs: 5_000 },
    ],
    storedOperations: new Map([
      ['a', 1],
      ['b', 1],
    ]),
    faults: [{ fault: 'partition gamma', startMs: 2_000, healMs: 4_000, isolated: ['gamma'] }],
    paused: [],
    triggers: [],
    crashes: [],
    triggerHoldMs: 4_000,
    epochIntervalMs: 1_000,
    heartbeatTimeoutMs: 800,
    convergeBoundMs: 10_000,
  };
}

function failing(h: History): CheckName[] {
  return [...new Set(checkHistory(h).violations.map((v) => v.check))];
}

describe('the fault history checker', () => {
  test('a clean history passes and yields its figures', () => {
    const verdict = checkHistory(cleanHistory());
    expect(verdict.violations).toEqual([]);
    expect(verdict.figures).toMatchObject({
      mutationsAcked: 3,
      mutationsLost: 0,
      ingestAcked: 2,
      ingestLost: 0,
      convergeMs: 500,
      leaderGapMs: 1_500,
      divergenceDetectMs: 500,
    });
  });

  test('a gap in the versions', () => {
    const h = cleanHistory();
    h.versions[2] = { version: 4, correlationId: 'c3' };
    expect(checkHistory(h).violations).toContainEqual({
      check: 'versions',
      message: 'version 3 missing: stored versions go 2 → 4',
    });
  });

  test('an acknowledged change that is not stored is lost', () => {
    const h = cleanHistory();
    h.mutations.push(mutation(4));
    const verdict = checkHistory(h);
    expect(verdict.figures.mutationsLost).toBe(1);
    expect(verdict.violations.map((v) => v.message)).toContain(
      'acknowledged change lost: op1 activate c4 (at 1400, ok as v4) is in no stored version',
    );
  });

  test('a change stored twice, a failed change stored, an unknown one stored twice', () => {
    for (const [outcome, extra] of [
      ['ok', {}],
      ['failed', { error: 'GATE_REFUSED' }],
      ['unknown', {}],
    ] as const) {
      const h = cleanHistory();
      h.mutations[2] = mutation(3, { outcome, ...extra });
      h.versions.push({ version: 4, correlationId: 'c3' });
      h.audit.push({ correlationId: 'c3', beforeVersion: 3, afterVersion: 4 });
      expect(failing(h), outcome).toContain('versions');
    }
  });

  test('an unknown change stored once is fine', () => {
    const h = cleanHistory();
    h.mutations[2] = mutation(3, { outcome: 'unknown', version: undefined });
    expect(checkHistory(h).violations).toEqual([]);
  });

  test('a version whose parent is not the one before it is a lost update', () => {
    const h = cleanHistory();
    h.audit[2] = { correlationId: 'c3', beforeVersion: 1, afterVersion: 3 };
    expect(failing(h)).toContain('lost-update');
  });

  test('an applied version that goes backwards', () => {
    const h = cleanHistory();
    h.polls.push(poll('beta', 1_700, 2));
    expect(failing(h)).toEqual(['applied-monotonic']);
  });

  test('a node that never reaches the latest version after the heal, or too late', () => {
    const h = cleanHistory();
    h.polls = h.polls.map((p) => (p.node === 'gamma' ? { ...p, appliedVersion: 2 } : p));
    expect(failing(h)).toEqual(['convergence']);
    const late = cleanHistory();
    late.convergeBoundMs = 100;
    expect(checkHistory(late).violations.map((v) => v.message)).toEqual([
      'every node was ready on v3 only 500 ms after the heal (bound 100 ms)',
    ]);
  });

  test('two leaders at once: overlapping spans, or interval epochs of two initiators too close', () => {
    const h = cleanHistory();
    h.leaderSpans[1] = { node: 'beta', fromMs: 2_900, toMs: 5_000 };
    expect(checkHistory(h).violations.map((v) => v.message)).toEqual([
      'alpha (0…3000) and beta (2900…5000) both led for 100 ms',
    ]);
    const epochs = cleanHistory();
    epochs.forcedSyncs = [];
    expect(checkHistory(epochs).violations.map((v) => v.message)).toEqual([
      'beta (beta-y-1) and gamma (gamma-z-1) ran interval epochs 100 ms apart',
    ]);
  });

  test('a paused leader does not count as leading while it is stopped', () => {
    const h = cleanHistory();
    h.leaderSpans[0] = { node: 'alpha', fromMs: 0, toMs: 4_000 };
    expect(failing(h)).toEqual(['single-leader']);
    h.paused = [{ node: 'alpha', fromMs: 3_000, toMs: 4_000 }];
    expect(checkHistory(h).violations).toEqual([]);
  });

  test('an acknowledged operation not stored, one stored twice, a failed one stored', () => {
    const lost = cleanHistory();
    lost.storedOperations.delete('b');
    expect(checkHistory(lost).figures.ingestLost).toBe(1);
    expect(failing(lost)).toEqual(['ingest']);
    const doubled = cleanHistory();
    doubled.storedOperations.set('a', 2);
    expect(checkHistory(doubled).figures.ingestDoubled).toBe(1);
    const failed = cleanHistory();
    failed.storedOperations.set('c', 1);
    expect(failing(failed)).toEqual(['ingest']);
  });

  test('a trigger that fires twice within one hold; one firing over several instances, or a later hold, is fine', () => {
    const h = cleanHistory();
    h.triggers = [
      { triggerId: 'r3-error-rate', layer: 'R3', instance: 'gamma', firedAtMs: 2_000 },
      { triggerId: 'r3-error-rate', layer: 'R3', instance: 'gamma', firedAtMs: 3_000 },
    ];
    expect(checkHistory(h).violations.map((v) => v.message)).toEqual([
      'r3-error-rate/R3/gamma fired at 2000 and again at 3000, within one hold (4000 ms)',
    ]);
    h.triggers = [
      { triggerId: 'r3-error-rate', layer: 'R3', firedAtMs: 2_000 },
      { triggerId: 'r3-error-rate', layer: 'R3', firedAtMs: 2_000 },
      { triggerId: 'r3-error-rate', layer: 'R3', firedAtMs: 6_500 },
    ];
    expect(checkHistory(h).violations).toEqual([]);
  });

  test('a node process that exits by itself', () => {
    const h = cleanHistory();
    h.crashes = [{ node: 'beta', atMs: 2_100, how: 'code 1' }];
    expect(checkHistory(h).violations).toEqual([{ check: 'crash', message: 'beta exited by itself at 2100 (code 1)' }]);
  });

  test('a partitioned node nobody reports, or reported too late', () => {
    const h = cleanHistory();
    h.polls = h.polls.filter((p) => p.atMs !== 2_500);
    expect(failing(h)).toEqual(['divergence']);
    const late = cleanHistory();
    late.polls = late.polls.map((p) => (p.atMs === 2_500 ? { ...p, atMs: 3_900 } : p));
    expect(checkHistory(late).violations).toEqual([]);
    late.epochIntervalMs = 500;
    expect(checkHistory(late).violations.map((v) => v.message)).toEqual([
      'partition gamma: gamma reported as diverged only after 1900 ms (bound 1800 ms)',
    ]);
  });
});
