import { describe, expect, test } from 'vitest';
import { parseTime } from '../../../src/cli/commands/rollout-backtest.js';
import { backtest, backtestExit, parsePlan, type HistoryEpoch } from '../../../src/rollouts/index.js';

const members = ['alpha', 'beta', 'gamma'];
const minute = 60_000;
const from = Date.parse('2025-05-01T12:00:00Z');

const plan = parsePlan(
  {
    file: 'bt.yaml',
    text: `name: bt
steps:
  - activate: { layers: [R1, R2] }
  - wait: { for: 10m }
  - approve: { note: stage 1 looks fine }
  - activate: { layers: [R3] }
  - analysis: { template: r3 }
`,
  },
  [
    {
      file: 'r3.yaml',
      text: `name: r3
metrics:
  - name: beta
    interval: 5m
    count: 2
    successCondition: result >= 2.0
    failureLimit: 0
    inconclusiveLimit: 1
    provider: { triad: { figure: amplification, layer: R3 } }
  - name: latency
    interval: 5m
    successCondition: result < 1
    provider: { prometheus: { address: "http://127.0.0.1:9", query: up } }
`,
    },
  ],
  members,
);

/** An epoch every minute in [start, end) with R1..R3 reported everywhere and R3's amplification from `amp`. */
function epochs(start: number, end: number, amp: (at: number) => number): HistoryEpoch[] {
  const out: HistoryEpoch[] = [];
  for (let at = start; at < end; at += minute) {
    const agreed: Record<string, number> = {};
    for (const layer of ['R1', 'R2', 'R3']) {
      agreed[`${layer}.reporting`] = 1;
      agreed[`${layer}.settled`] = 1;
      agreed[`${layer}.samples`] = 500 / members.length;
      agreed[`${layer}.error_rate`] = 0.001;
      agreed[`${layer}.amplification`] = layer === 'R3' ? amp(at) : 2.1;
    }
    out.push({ at, error: 0.001, members, agreed });
  }
  return out;
}

const timing = { duration: (ms: number) => ms, maxSampleAgeMs: 2 * minute, minSamples: 10 };
const run = (history: HistoryEpoch[], to = from + 60 * minute) =>
  backtest({ plan, from, to, epochs: history, operations: [], members, timing });

describe('rollout backtest', () => {
  test('a plan whose checks hold over the history would pass, with the simulated end time', () => {
    const r = run(epochs(from - minute, from + 60 * minute, () => 2.5));
    expect(r.outcome).toBe('pass');
    expect(backtestExit[r.outcome]).toBe(0);
    // wait 10m, then the analysis's two measurements 5m apart: done at +15m.
    expect(r.endedAt).toBe(from + 15 * minute);
    expect(r.steps.map((s) => s.outcome)).toEqual(['applied', 'passed', 'assumed', 'applied', 'passed']);
    expect(r.steps[2]!.note).toMatch(/assumed approved at once/);
    const analysis = r.steps[4]!;
    const beta = analysis.measurements.filter((m) => m.check === 'beta');
    expect(beta.map((m) => [m.at - from, m.phase, m.value])).toEqual([
      [10 * minute, 'PASS', 2.5],
      [15 * minute, 'PASS', 2.5],
    ]);
    // The PromQL check is shown, not replayed, and does not count toward its limit.
    const latency = analysis.measurements.filter((m) => m.check === 'latency');
    expect(latency.length).toBeGreaterThan(0);
    expect(latency.every((m) => !m.replayed && m.phase === 'INCONCLUSIVE' && /not replayable/.test(m.detail))).toBe(
      true,
    );
  });

  test('a check that fails stops at the right step with the measured value (would abort, exit 1)', () => {
    const r = run(epochs(from - minute, from + 60 * minute, (at) => (at >= from + 12 * minute ? 1.5 : 2.5)));
    expect(r.outcome).toBe('abort');
    expect(backtestExit[r.outcome]).toBe(1);
    expect(r.stop).toMatchObject({ step: 5, template: 'r3', check: 'beta', phase: 'FAIL', value: 1.5 });
    expect(r.endedAt).toBe(from + 15 * minute);
    expect(r.steps.at(-1)!.outcome).toBe('failed');
    expect(r.message).toMatch(/would abort at step 5: FAIL r3\/beta/);
  });

  test('history that goes quiet is INCONCLUSIVE past its limit: would pause (exit 3)', () => {
    // The last epoch is at +6m: the analysis's measurements at +10m and +15m read figures 4 and 9 min old (stale
    // after 2): 2 inconclusive > inconclusiveLimit 1. (One stale and one good would pass, as in the executor: count
    // counts every measurement, and one inconclusive is within the limit.)
    const r = run(epochs(from - minute, from + 7 * minute, () => 2.5));
    expect(r.outcome).toBe('pause');
    expect(backtestExit[r.outcome]).toBe(3);
    expect(r.stop).toMatchObject({ step: 5, check: 'beta', phase: 'INCONCLUSIVE', value: null });
    expect(r.stop!.detail).toMatch(/stale/);
    expect(r.endedAt).toBe(from + 15 * minute);
  });

  test('a run longer than the history ends with "not enough history"', () => {
    const r = run(
      epochs(from - minute, from + 60 * minute, () => 2.5),
      from + 12 * minute,
    );
    expect(r.outcome).toBe('incomplete');
    expect(backtestExit[r.outcome]).toBe(3);
    expect(r.message).toMatch(/not enough history: step 5/);
    expect(r.steps.at(-1)!.outcome).toBe('not enough history');
  });

  test('times are ISO 8601, now, or ago', () => {
    const now = Date.parse('2025-05-08T00:00:00Z');
    expect(parseTime('-7d', '--from', now)).toBe(Date.parse('2025-05-01T00:00:00Z'));
    expect(parseTime('2025-05-01T12:00:00Z', '--from', now)).toBe(from);
    expect(parseTime('now', '--to', now)).toBe(now);
    expect(() => parseTime('yesterday', '--from', now)).toThrow(/--from expects an ISO 8601 time/);
  });
});
