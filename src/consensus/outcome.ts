import { consensusErrorVec } from './laplacian.js';
import { memberDivergence } from './measurement.js';
import type { EpochOutcome, EpochReport, MemberResult } from './messages.js';

export interface MeasuredEpoch {
  error: number;
  converged: boolean;
  agreed: number[];
  members: MemberResult[];
  unreachable: string[];
  /** W-MSR only: reporting members whose final value sits outside the others' agreement (at most f of them). */
  suspects: string[];
}

/**
 * DESIGN §3: consensus_error = max_i ‖x_i − x̄‖∞ / max(1, ‖x̄‖∞), x̄ the true mean of the snapshot. A member that
 * did not report has an unknown state, and unknown is never agreement: it counts as error 1 (fully diverged), so a
 * dead or cut-off node always shows as divergence, even when every value happened to be equal.
 */
export function measureEpoch(
  members: readonly string[],
  reports: ReadonlyMap<string, EpochReport>,
  epsilon: number,
  f = 0,
): MeasuredEpoch {
  if (f > 0) return measureResilient(members, reports, epsilon, f);
  const reported = members.filter((m) => reports.has(m));
  const width = reports.values().next().value?.snapshot.length ?? 0;
  const mean = Array.from({ length: width }, (_, k) =>
    reported.length === 0 ? 0 : reported.reduce((s, m) => s + (reports.get(m)?.snapshot[k] ?? 0), 0) / reported.length,
  );
  const snapshots = reported.map((m) => reports.get(m)?.snapshot ?? []);
  const results: MemberResult[] = members.map((member) => {
    const report = reports.get(member);
    if (!report) return { member, reachable: false, divergence: 1, error: 1, final: [], roundsRun: 0, snapshot: [] };
    return {
      member,
      reachable: true,
      divergence: memberDivergence(report.snapshot, snapshots),
      error: consensusErrorVec([report.final], mean),
      final: report.final,
      roundsRun: report.roundsRun,
      snapshot: report.snapshot,
    };
  });
  const error = results.length === 0 ? 1 : Math.max(...results.map((r) => r.error));
  return {
    error,
    converged: error < epsilon,
    agreed: mean,
    members: results,
    unreachable: members.filter((m) => !reports.has(m)),
    suspects: [],
  };
}

/**
 * Under W-MSR the correct nodes do not reach the snapshot mean (a liar's snapshot is whatever it says, and trimming
 * weighs values unevenly): they reach some point within the range of their own snapshots. So the epoch is measured
 * as that: the members whose final lies off the coordinate-wise median of all finals by ε or more are suspects when
 * there are at most f of them; the others' mean is the agreed vector, and each correct member's error is its
 * distance from it, or from the range of the correct snapshots if it lies outside — whichever is larger. Suspects
 * do not count towards the epoch's error; unreachable members still count 1.
 */
function measureResilient(
  members: readonly string[],
  reports: ReadonlyMap<string, EpochReport>,
  epsilon: number,
  f: number,
): MeasuredEpoch {
  const reported = members.filter((m) => reports.has(m));
  const finalOf = (m: string) => reports.get(m)?.final ?? [];
  const width = reports.values().next().value?.final.length ?? 0;
  const center = Array.from({ length: width }, (_, k) => median(reported.map((m) => finalOf(m)[k] ?? 0)));
  const deviation = new Map(reported.map((m) => [m, distance(finalOf(m), center)]));
  const off = reported.filter((m) => (deviation.get(m) ?? 0) >= epsilon);
  const suspects = off.length <= f ? off : [];
  const correct = reported.filter((m) => !suspects.includes(m));
  const agreed = Array.from({ length: width }, (_, k) =>
    correct.length === 0 ? 0 : correct.reduce((s, m) => s + (finalOf(m)[k] ?? 0), 0) / correct.length,
  );
  const snapshots = correct.map((m) => reports.get(m)?.snapshot ?? []);
  const lo = agreed.map((_, k) => Math.min(...snapshots.map((v) => v[k] ?? 0)));
  const hi = agreed.map((_, k) => Math.max(...snapshots.map((v) => v[k] ?? 0)));
  const scale = Math.max(1, ...agreed.map(Math.abs));
  const results: MemberResult[] = members.map((member) => {
    const report = reports.get(member);
    if (!report) return { member, reachable: false, divergence: 1, error: 1, final: [], roundsRun: 0, snapshot: [] };
    const outside = Math.max(0, ...report.final.map((v, k) => Math.max((lo[k] ?? v) - v, v - (hi[k] ?? v))));
    const error = suspects.includes(member)
      ? (deviation.get(member) ?? 1)
      : Math.max(distance(report.final, agreed), outside / scale);
    return {
      member,
      reachable: true,
      divergence: memberDivergence(report.snapshot, snapshots.length > 0 ? snapshots : [report.snapshot]),
      error,
      final: report.final,
      roundsRun: report.roundsRun,
      snapshot: report.snapshot,
    };
  });
  const counted = results.filter((r) => !suspects.includes(r.member));
  const error = counted.length === 0 ? 1 : Math.max(...counted.map((r) => r.error));
  return {
    error,
    converged: error < epsilon,
    agreed,
    members: results,
    unreachable: members.filter((m) => !reports.has(m)),
    suspects,
  };
}

/**
 * The suspects an outcome names, as any node can tell from it: reachable members whose error is ε or more, when
 * W-MSR is on and there are at most f of them (more than f off means no agreement, not f liars).
 */
export function suspectsOf(outcome: Pick<EpochOutcome, 'members' | 'epsilon'>, f: number): string[] {
  if (f <= 0) return [];
  const off = outcome.members.filter((m) => m.reachable && m.error >= outcome.epsilon).map((m) => m.member);
  return off.length <= f ? off : [];
}

/** ‖x − c‖∞ / max(1, ‖c‖∞), the DESIGN §3 error of one vector. */
function distance(x: readonly number[], c: readonly number[]): number {
  let worst = 0;
  c.forEach((v, k) => (worst = Math.max(worst, Math.abs((x[k] ?? 0) - v))));
  return worst / Math.max(1, ...c.map(Math.abs));
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
