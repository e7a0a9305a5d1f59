import { consensusErrorVec } from './laplacian.js';
import { memberDivergence } from './measurement.js';
import type { EpochReport, MemberResult } from './messages.js';

export interface MeasuredEpoch {
  error: number;
  converged: boolean;
  agreed: number[];
  members: MemberResult[];
  unreachable: string[];
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
): MeasuredEpoch {
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
  };
}
