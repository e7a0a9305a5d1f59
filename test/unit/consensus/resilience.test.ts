import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  analyzeResilience,
  graphFromTopology,
  robustnessWitness,
  suspectsOf,
  trimmedUpdate,
} from '../../../src/consensus/index.js';
import { attachLiar, consensusCluster, measurementOf, seriesValue, width } from './node-harness.js';
import { errorOf } from './helpers.js';

describe('W-MSR update', () => {
  test('trims up to f values above and below its own, most extreme first, and reports whom it trimmed', () => {
    const { value, trimmed } = trimmedUpdate(
      [0],
      [
        { value: [100], weight: 1 },
        { value: [1], weight: 1 },
        { value: [-1], weight: 1 },
        { value: [-100], weight: 1 },
      ],
      0.2,
      1,
    );
    expect([...trimmed].sort()).toEqual([0, 3]);
    expect(value[0]).toBeCloseTo(0, 12); // +1 and −1 pull equally
  });

  test('with at most f liars among the neighbours, the new value stays within the correct values (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.double({ min: -1e9, max: 1e9, noNaN: true }),
        (own, correct, lie) => {
          const neighbours = [...correct, lie].map((v) => ({ value: [v], weight: 1 }));
          const x = trimmedUpdate([own], neighbours, 0.2, 1).value[0]!;
          const lo = Math.min(own, ...correct);
          const hi = Math.max(own, ...correct);
          return x >= lo - 1e-9 && x <= hi + 1e-9;
        },
      ),
    );
  });
});

describe('robustness', () => {
  test('brute force agrees with the closed form: K_n is r-robust exactly when n ≥ 2r − 1', () => {
    for (let n = 1; n <= 8; n++) {
      for (let r = 1; r <= 5; r++) {
        const robust = robustnessWitness(graphFromTopology(`K${n}`), r, 1) === undefined;
        expect(robust, `K${n}, r = ${r}`).toBe(n === 1 || n >= 2 * r - 1);
      }
    }
  });

  test('K5 tolerates one liar; K3 is (2, 2)-robust yet cannot tolerate one; K4 can; K6 cannot tolerate two, K7 can', () => {
    const k5 = analyzeResilience(graphFromTopology('K5'), 1);
    expect(k5).toMatchObject({ f: 1, robust: true, tolerates: true });
    const k3 = analyzeResilience(graphFromTopology('K3'), 1);
    expect(k3).toMatchObject({ f: 1, robust: true, tolerates: false });
    expect(k3.reason).toContain('n ≥ 3f + 1 = 4 nodes');
    expect(k3.reason).toMatch(/in \{\w+\} and \{\w+\} no node has 2 neighbours outside its own set/);
    expect(analyzeResilience(graphFromTopology('K4'), 1).tolerates).toBe(true);
    expect(analyzeResilience(graphFromTopology('K6'), 2).tolerates).toBe(false);
    expect(analyzeResilience(graphFromTopology('K7'), 2).tolerates).toBe(true);
    expect(analyzeResilience(graphFromTopology('ring:6'), 1)).toMatchObject({ robust: false, tolerates: false });
  });

  test('more than 12 nodes is refused with INPUT_INVALID, not computed for minutes', () => {
    const err = errorOf(() => analyzeResilience(graphFromTopology('K13'), 1));
    expect(err.code).toBe('INPUT_INVALID');
    expect(err.message).toContain('at most 12 nodes');
  });
});

describe('W-MSR through the protocol, on K5 with one liar', () => {
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const correct = names.slice(0, 4);
  // The liar tells every other neighbour a huge value and the rest a hugely negative one, every round.
  const lie = (peer: string) => Array.from({ length: width }, () => (names.indexOf(peer) % 2 === 0 ? 1e9 : -1e9));
  const range = (k: number) => {
    const values = correct.map((_, i) => measurementOf(i)[k]!);
    return [Math.min(...values), Math.max(...values)] as const;
  };

  test('with f = 1 the others stay within the correct range, agree, and flag the liar', async () => {
    const { net, node, settle } = consensusCluster(names, { epsilon: 1e-6, resilience: { f: 1, rounds: 60 } }, [
      'epsilon',
    ]);
    attachLiar(net, 'epsilon', lie);
    const outcome = await settle(node('alpha').consensus.runEpoch());
    expect(outcome.converged).toBe(true);
    expect(outcome.error).toBeLessThan(1e-6);
    expect(suspectsOf(outcome, 1)).toEqual(['epsilon']);
    for (const m of outcome.members.filter((x) => correct.includes(x.member))) {
      m.final.forEach((v, k) => {
        const [lo, hi] = range(k);
        expect(v, `${m.member}[${k}]`).toBeGreaterThanOrEqual(lo - 1e-9);
        expect(v, `${m.member}[${k}]`).toBeLessThanOrEqual(hi + 1e-9);
        expect(Math.abs(v - outcome.agreed[k]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(outcome.agreed[k]!)));
      });
    }
    // Every correct node received the outcome and flags the liar in consensus_suspect{member}.
    await settle(Promise.resolve());
    for (const name of correct) {
      const registry = node(name).registry;
      expect(await seriesValue(registry, 'consensus_suspect', { member: 'epsilon' }), name).toBe(1);
      expect(await seriesValue(registry, 'consensus_suspect', { member: 'beta' }), name).toBe(0);
      expect(await seriesValue(registry, 'consensus_converged', { topology: 'K5' }), name).toBe(1);
    }
  });

  test('without W-MSR the same liar pulls the others far out of the correct range', async () => {
    const { net, node, settle } = consensusCluster(names, { epsilon: 1e-6 }, ['epsilon']);
    attachLiar(net, 'epsilon', lie);
    const outcome = await settle(node('alpha').consensus.runEpoch());
    const beta = outcome.members.find((m) => m.member === 'beta')!;
    expect(Math.abs(beta.final[0]!)).toBeGreaterThan(1e6);
    expect(outcome.converged).toBe(false);
  });

  test('a node refuses to start with f = 1 on K3: the graph cannot deliver it', () => {
    const err = errorOf(() => consensusCluster(['alpha', 'beta', 'gamma'], { resilience: { f: 1, rounds: 60 } }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('consensus.resilience.f = 1');
    expect(err.message).toContain('n ≥ 3f + 1 = 4');
  });
});
