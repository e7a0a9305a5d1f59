import { describe, expect, test } from 'vitest';
import { measurementKeys, type EpochOutcome, type EpochPlan } from '../../../src/consensus/index.js';
import { consensusCluster, deliver, labelValues, measurementOf, seriesValue, width } from './node-harness.js';

const names = ['alpha', 'beta', 'gamma'];

/** One real epoch started by alpha, so beta and gamma know it; returns its outcome. */
async function realEpoch(h: ReturnType<typeof consensusCluster>): Promise<EpochOutcome> {
  return h.settle(h.node('alpha').consensus.runEpoch());
}

const planFrom = (initiator: string, overrides: Partial<EpochPlan> = {}): EpochPlan => ({
  epochId: `forged-${Math.random().toString(36).slice(2)}`,
  initiator,
  participants: names,
  edges: [
    { a: 'alpha', b: 'beta', weight: 1 },
    { a: 'alpha', b: 'gamma', weight: 1 },
    { a: 'beta', b: 'gamma', weight: 1 },
  ],
  step: 1 / 3,
  rounds: 1,
  roundTimeoutMs: 500,
  vectorKeys: [...measurementKeys],
  ...overrides,
});

describe('epoch ids', () => {
  test('are random, distinct, and within the edge bound (64 characters of [A-Za-z0-9._:-])', async () => {
    const h = consensusCluster(names);
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await realEpoch(h)).epochId);
    expect(ids.size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^alpha:[0-9a-f]{24}$/);
  });
});

describe('outcomes', () => {
  test('an outcome for an epoch the node never took part in is dropped as unknown_epoch', async () => {
    const h = consensusCluster(names);
    const real = await realEpoch(h);
    const beta = h.node('beta');
    deliver(beta, { kind: 'outcome', from: 'alpha', outcome: { ...real, epochId: 'sent-ahead' } });
    expect(beta.rejected).toEqual(['unknown_epoch']);
    expect(beta.consensus.last()?.epochId).toBe(real.epochId);
  });

  test('an outcome dated in the future is dropped; the next real outcome is taken', async () => {
    const h = consensusCluster(names);
    const beta = h.node('beta');
    // gamma (a liar with a certificate) cannot publish for alpha's epoch: from must be the initiator.
    const first = await realEpoch(h);
    deliver(beta, { kind: 'outcome', from: 'gamma', outcome: { ...first, initiator: 'gamma' } });
    // Replaying alpha's own outcome, dated an hour ahead, for an epoch beta knows.
    const ahead = { ...first, startedAtMs: h.clock.now() + 3_600_000 };
    deliver(beta, { kind: 'outcome', from: 'alpha', outcome: ahead });
    expect(beta.rejected).toEqual(['invalid_outcome', 'future']);
    await h.clock.advance(1_000);
    const second = await realEpoch(h);
    await h.settle(Promise.resolve());
    expect(beta.consensus.last()?.epochId).toBe(second.epochId);
    // And the older one, replayed late, is stale.
    deliver(beta, { kind: 'outcome', from: 'alpha', outcome: first });
    expect(beta.rejected.at(-1)).toBe('stale');
  });

  test('rounds −1 and 10⁹, NaN error, a foreign topology or member: dropped as invalid_outcome, nothing thrown', async () => {
    const h = consensusCluster(names);
    const beta = h.node('beta');
    const real = await realEpoch(h);
    await h.settle(Promise.resolve());
    const before = await seriesValue(beta.registry, 'consensus_rounds_total', { topology: 'K3' });
    const forged: Partial<EpochOutcome>[] = [
      { rounds: -1 },
      { rounds: 1e9 },
      { rounds: 1.5 },
      { error: NaN },
      { topology: 'K999' },
      { members: [...real.members, { ...real.members[0]!, member: 'zeta' }] },
      { agreed: [1, 2] },
    ];
    for (const f of forged) deliver(beta, { kind: 'outcome', from: 'alpha', outcome: { ...real, ...f } });
    expect(beta.rejected).toEqual(forged.map(() => 'invalid_outcome'));
    expect(await seriesValue(beta.registry, 'consensus_rounds_total', { topology: 'K3' })).toBe(before);
    expect([...(await labelValues(beta.registry, 'topology'))]).toEqual(['K3']);
    expect([...(await labelValues(beta.registry, 'member'))].sort()).toEqual([...names].sort());
  });
});

describe('reports', () => {
  test('a report for an epoch that is not running, or from a non-participant, is dropped as unknown_epoch', () => {
    const h = consensusCluster(names);
    const alpha = h.node('alpha');
    const v = measurementOf(1);
    const report = { epochId: 'guessed', instance: 'beta', snapshot: v, final: v, roundsRun: 1, dropped: [] };
    deliver(alpha, { kind: 'report', from: 'beta', report });
    expect(alpha.rejected).toEqual(['unknown_epoch']);
  });
});

describe('plans', () => {
  test('too many rounds, a foreign initiator or edge, a bad step or timeout: dropped as invalid_plan', () => {
    const h = consensusCluster(names);
    const beta = h.node('beta');
    const bad: [string, EpochPlan][] = [
      ['10,000 rounds', planFrom('alpha', { rounds: 10_000 })],
      ['rounds −1', planFrom('alpha', { rounds: -1 })],
      ['initiator is not the sender', planFrom('gamma')],
      ['an edge not configured', planFrom('alpha', { edges: [{ a: 'alpha', b: 'beta', weight: 1e6 }] })],
      ['a non-member participant', planFrom('alpha', { participants: [...names, 'zeta'] })],
      ['a step of 5', planFrom('alpha', { step: 5 })],
      ['a one-hour round timeout', planFrom('alpha', { roundTimeoutMs: 3_600_000 })],
      ['another measurement layout', planFrom('alpha', { vectorKeys: ['x'] })],
    ];
    for (const [, plan] of bad) deliver(beta, { kind: 'plan', from: 'alpha', plan });
    expect(beta.rejected).toEqual(bad.map(() => 'invalid_plan'));
    expect(h.net.sent.filter((m) => m.from === 'beta')).toEqual([]);
  });

  test('plans beyond max_concurrent_epochs are dropped as too_many_epochs', async () => {
    const h = consensusCluster(names, { maxConcurrentEpochs: 2 });
    const beta = h.node('beta');
    // Plans whose rounds never complete (alpha sends no round values): each holds a slot until its round timeout.
    for (let i = 0; i < 4; i++) deliver(beta, { kind: 'plan', from: 'alpha', plan: planFrom('alpha') });
    expect(beta.rejected).toEqual(['too_many_epochs', 'too_many_epochs']);
    await h.clock.advance(2_000);
    deliver(beta, { kind: 'plan', from: 'alpha', plan: planFrom('alpha') });
    expect(beta.rejected).toHaveLength(2);
  });
});

describe('round values and mailboxes', () => {
  test('a negative or huge round index, or a short vector, is dropped as invalid_round', () => {
    const h = consensusCluster(names);
    const gamma = h.node('gamma');
    const value = measurementOf(0);
    for (const round of [-1, 1e9, 0.5]) {
      deliver(gamma, { kind: 'round', from: 'alpha', round: { epochId: 'e', from: 'alpha', round, value } });
    }
    deliver(gamma, { kind: 'round', from: 'alpha', round: { epochId: 'e', from: 'alpha', round: 0, value: [1] } });
    expect(gamma.rejected).toEqual(['invalid_round', 'invalid_round', 'invalid_round', 'invalid_round']);
  });

  test('values for unknown epochs fill the mailbox up to its bound, then are refused; the ttl empties it on a non-leader', async () => {
    const h = consensusCluster(names, { mailbox: { maxEpochs: 8, ttlMs: 10_000 } });
    const gamma = h.node('gamma');
    const value = Array.from({ length: width }, () => 1);
    const spam = (i: number) =>
      deliver(gamma, { kind: 'round', from: 'alpha', round: { epochId: `junk-${i}`, from: 'alpha', round: 0, value } });
    for (let i = 0; i < 20; i++) spam(i);
    expect(gamma.rejected).toEqual(Array.from({ length: 12 }, () => 'mailbox_full'));
    // A real epoch still runs: waiting is never refused, only holding values nobody asked for.
    const outcome = await h.settle(h.node('alpha').consensus.runEpoch());
    expect(outcome.converged).toBe(true);
    await h.clock.advance(15_000);
    spam(100);
    expect(gamma.rejected).toHaveLength(12);
  });
});
