import { describe, expect, test } from 'vitest';
import { pino } from 'pino';
import {
  ConsensusCoordinator,
  createEpochPlanner,
  EpochParticipant,
  measurementKeys,
  type EpochOutcome,
} from '../../../src/consensus/index.js';
import type { ClusterConfig } from '../../../src/config/index.js';
import { InMemoryNetwork } from '../../fixtures/in-memory-network.js';
import { ManualClock } from '../../fixtures/manual-clock.js';

const silentLog = pino({ level: 'silent' });
const width = measurementKeys.length;

/** A distinct measurement per node: node i holds (i+1)·(k+1) in component k, so the mean is known in closed form. */
const measurementOf = (i: number) => Array.from({ length: width }, (_, k) => (i + 1) * (k + 1));

function cluster(names: string[], topology: ClusterConfig['topology'] = 'complete', reachable = (_: string) => true) {
  const clock = new ManualClock();
  const net = new InMemoryNetwork();
  const config = {
    topology,
    edges: [],
    instances: names.map((name, i) => ({ name, host: '127.0.0.1', grpcPort: 1000 + i, httpPort: 2000 + i })),
  };
  const received = new Map<string, EpochOutcome[]>();
  const nodes = names.map((self, i) => {
    const transport = net.for(self);
    const participant = new EpochParticipant({
      self,
      clock,
      transport,
      measure: () => measurementOf(i),
      log: silentLog,
    });
    received.set(self, []);
    const coordinator = new ConsensusCoordinator({
      self,
      members: names,
      topology: `K${names.length}`,
      planGraph: createEpochPlanner(config, 1e-9),
      epsilon: 1e-9,
      roundTimeoutMs: 500,
      isReachable: reachable,
      participant,
      transport,
      clock,
      log: silentLog,
      onOutcome: (o) => received.get(self)?.push(o),
    });
    net.attach(self, (m) => coordinator.deliver(m));
    return coordinator;
  });
  return { clock, net, nodes, received };
}

const meanOf = (n: number) => measurementOf(0).map((_, k) => ((n + 1) / 2) * (k + 1));

describe.each([
  ['K3', ['alpha', 'beta', 'gamma']],
  ['K5', ['alpha', 'beta', 'gamma', 'delta', 'epsilon']],
])('%s', (_topology, names) => {
  test('one epoch reaches the exact mean in one round and every node records the same outcome', async () => {
    const { nodes, received, clock } = cluster(names);
    const epoch = nodes[0]!.runEpoch();
    await clock.advance(0);
    const outcome = await epoch;
    expect(outcome.rounds).toBe(1);
    expect(outcome.step).toBeCloseTo(1 / names.length, 12);
    expect(outcome.lambda2).toBe(names.length);
    expect(outcome.converged).toBe(true);
    expect(outcome.error).toBeLessThan(1e-12);
    expect(outcome.unreachable).toEqual([]);
    const expected = meanOf(names.length);
    expect(outcome.agreed).toHaveLength(width);
    outcome.agreed.forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 9));
    expect(outcome.members.map((m) => m.member)).toEqual(names);
    for (const m of outcome.members) {
      expect(m.final, m.member).toHaveLength(width);
      m.final.forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 9));
    }
    await clock.advance(0);
    for (const name of names) expect(received.get(name)?.map((o) => o.epochId)).toEqual([outcome.epochId]);
  });
});

test("the plan carries the initiator's round-0 value: on K_n it sends n−1 plans and no round message", async () => {
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const { nodes, net, clock } = cluster(names);
  const epoch = nodes[0]!.runEpoch();
  await clock.advance(0);
  expect((await epoch).converged).toBe(true);
  const count = (from: string, kind: string) => net.sent.filter((m) => m.from === from && m.kind === kind).length;
  expect(count('alpha', 'plan')).toBe(4);
  expect(count('alpha', 'round')).toBe(0);
  // Every other node still sends its value to each of its four neighbours, and reports once.
  for (const name of names.slice(1)) {
    expect(count(name, 'round')).toBe(4);
    expect(count(name, 'report')).toBe(1);
  }
});

test('a plan whose initiator_value is malformed is refused, and the epoch drops that member', async () => {
  const { net, clock } = cluster(['alpha', 'beta', 'gamma']);
  const beta = new EpochParticipant({
    self: 'beta',
    clock,
    transport: net.for('beta'),
    measure: () => measurementOf(1),
    log: silentLog,
  });
  const plan = {
    epochId: 'alpha-x-1',
    initiator: 'alpha',
    participants: ['alpha', 'beta', 'gamma'],
    edges: [{ a: 'alpha', b: 'beta', weight: 1 }],
    step: 0.5,
    rounds: 1,
    roundTimeoutMs: 500,
    vectorKeys: [...measurementKeys],
  };
  await expect(beta.run({ ...plan, initiatorValue: [1, 2] })).rejects.toThrow(
    `initiator_value must be ${width} finite numbers, received 2`,
  );
  await expect(beta.run({ ...plan, initiatorValue: measurementOf(0).map(() => Number.NaN) })).rejects.toThrow(
    /initiator_value must be/,
  );
  // A well-formed one is taken as alpha's round-0 value: beta needs no message from alpha to finish.
  const report = await beta.run({ ...plan, initiatorValue: measurementOf(0) });
  report.final.forEach((v, k) => expect(v).toBeCloseTo(((1 + 2) / 2) * (k + 1), 12));
  expect(net.sent.filter((m) => m.from === 'alpha')).toEqual([]);
});

test('a ring needs several rounds and still ends within epsilon', async () => {
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
  const { nodes, clock } = cluster(names, 'ring');
  const epoch = nodes[2]!.runEpoch();
  await clock.advance(0);
  const outcome = await epoch;
  expect(outcome.rounds).toBeGreaterThan(5);
  expect(outcome.converged).toBe(true);
  expect(outcome.error).toBeLessThan(1e-9);
});

test('a silent peer drops out of the epoch instead of stalling it, and shows as full divergence', async () => {
  const { nodes, net, clock } = cluster(['alpha', 'beta', 'gamma']);
  net.silence('gamma');
  const epoch = nodes[0]!.runEpoch();
  await clock.advance(500); // alpha and beta give up on gamma's round value
  await clock.advance(1_500); // alpha gives up on gamma's report
  const outcome = await epoch;
  expect(outcome.unreachable).toEqual(['gamma']);
  expect(outcome.converged).toBe(false);
  expect(outcome.error).toBe(1);
  expect(outcome.members.find((m) => m.member === 'gamma')).toMatchObject({
    reachable: false,
    divergence: 1,
    error: 1,
  });
});

test('a member known to be unreachable is left out of the plan: the others agree exactly on the smaller graph', async () => {
  const { nodes, net, clock } = cluster(['alpha', 'beta', 'gamma'], 'complete', (m) => m !== 'gamma');
  net.silence('gamma');
  const epoch = nodes[0]!.runEpoch();
  await clock.advance(0);
  const outcome = await epoch;
  expect(outcome.step).toBeCloseTo(0.5, 12); // K2: a* = 2/(2+2)
  expect(outcome.lambda2).toBe(2);
  const [alpha, beta] = outcome.members;
  expect(alpha!.final).toEqual(beta!.final);
  expect(outcome.error).toBe(1);
  expect(outcome.unreachable).toEqual(['gamma']);
  expect(net.sent.filter((s) => s.to === 'gamma')).toEqual([]);
});

test('restricting an epoch to some instances measures only those; an unknown name is refused', async () => {
  const { nodes, clock } = cluster(['alpha', 'beta', 'gamma']);
  const epoch = nodes[1]!.runEpoch({ instances: ['beta', 'gamma'] });
  await clock.advance(0);
  const outcome = await epoch;
  expect(outcome.members.map((m) => m.member)).toEqual(['beta', 'gamma']);
  expect(outcome.converged).toBe(true);
  await expect(nodes[0]!.runEpoch({ instances: ['alpha', 'zeta'] })).rejects.toMatchObject({
    code: 'INPUT_INVALID',
    message: '[INPUT_INVALID] unknown instance "zeta" (cluster: alpha, beta, gamma)',
  });
});

test('an older outcome arriving after a newer one does not replace it', async () => {
  const { nodes, clock } = cluster(['alpha', 'beta', 'gamma']);
  const first = nodes[0]!.runEpoch();
  await clock.advance(0);
  const older = await first;
  await clock.advance(1_000);
  const second = nodes[0]!.runEpoch();
  await clock.advance(0);
  const newer = await second;
  nodes[2]!.deliver({ kind: 'outcome', from: 'alpha', outcome: older });
  expect(nodes[2]!.last()?.epochId).toBe(newer.epochId);
});
