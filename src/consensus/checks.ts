import { consensusDefaults } from '../config/index.js';
import { measurementKeys } from './measurement.js';
import type { EpochOutcome, EpochPlan, EpochReport, RoundValue } from './messages.js';

/**
 * Why a consensus message from a peer was dropped (triad_peer_messages_rejected_total{reason}, docs/metrics.md).
 * A closed set: these are label values, never text from the wire.
 */
export type ConsensusRejection =
  | 'invalid_plan'
  | 'invalid_round'
  | 'invalid_report'
  | 'invalid_outcome'
  | 'unknown_epoch'
  | 'stale'
  | 'future'
  | 'mailbox_full'
  | 'too_many_epochs';

/** The bounds consensus input is held to (docs/security.md "Consensus input"); config keys under `consensus:`. */
export interface ConsensusLimits {
  maxClockSkewMs: number;
  maxRounds: number;
  maxConcurrentEpochs: number;
  mailboxMaxEpochs: number;
  mailboxTtlMs: number;
}

export const defaultLimits: ConsensusLimits = {
  maxClockSkewMs: consensusDefaults.maxClockSkewMs,
  maxRounds: consensusDefaults.maxRounds,
  maxConcurrentEpochs: consensusDefaults.maxConcurrentEpochs,
  mailboxMaxEpochs: consensusDefaults.mailboxMaxEpochs,
  mailboxTtlMs: consensusDefaults.mailboxTtlMs,
};

/** A round's deadline a plan may set: a minute is far past any loopback or LAN round trip. */
export const MAX_ROUND_TIMEOUT_MS = 60_000;

/** A message that failed a check: the counted reason and what was wrong (for the log line). */
export interface Refusal {
  reason: ConsensusRejection;
  problem: string;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A measurement vector as this node lays it out: one finite number per key. */
export function isVector(v: unknown): v is number[] {
  return Array.isArray(v) && v.length === measurementKeys.length && v.every(finite);
}

/** What a receiving node knows that the message cannot change: the cluster's members and the bounds. */
export interface CheckContext {
  members: ReadonlySet<string>;
  limits: ConsensusLimits;
}

export function checkRound(round: RoundValue, ctx: CheckContext): Refusal | undefined {
  if (!ctx.members.has(round.from)) return { reason: 'invalid_round', problem: `sender ${round.from} is not a member` };
  if (!Number.isInteger(round.round) || round.round < 0 || round.round >= ctx.limits.maxRounds) {
    return { reason: 'invalid_round', problem: `round ${round.round} outside [0, ${ctx.limits.maxRounds})` };
  }
  if (!isVector(round.value)) {
    return { reason: 'invalid_round', problem: `value must be ${measurementKeys.length} finite numbers` };
  }
  return undefined;
}

/** A plan from `from`: sent by its own initiator, among members, on the configured graph, within the bounds. */
export function checkPlan(
  plan: EpochPlan,
  from: string,
  ctx: CheckContext & { configuredEdge: (a: string, b: string, weight: number) => boolean },
): Refusal | undefined {
  const problems: string[] = [];
  if (plan.initiator !== from) problems.push(`initiator ${plan.initiator} is not the sender ${from}`);
  const participants = new Set(plan.participants);
  if (participants.size !== plan.participants.length) problems.push('participants repeat');
  if (plan.participants.some((p) => !ctx.members.has(p))) problems.push('a participant is not a member');
  if (!participants.has(from)) problems.push('the initiator does not take part');
  for (const e of plan.edges) {
    if (!participants.has(e.a) || !participants.has(e.b) || !ctx.configuredEdge(e.a, e.b, e.weight)) {
      problems.push(`edge ${e.a}–${e.b} is not an edge of the configured graph among the participants`);
      break;
    }
  }
  if (!Number.isInteger(plan.rounds) || plan.rounds < 0 || plan.rounds > ctx.limits.maxRounds) {
    problems.push(`rounds ${plan.rounds} outside [0, ${ctx.limits.maxRounds}]`);
  }
  if (!finite(plan.step) || plan.step <= 0 || plan.step > 1) problems.push(`step ${plan.step} outside (0, 1]`);
  if (!Number.isInteger(plan.roundTimeoutMs) || plan.roundTimeoutMs < 1 || plan.roundTimeoutMs > MAX_ROUND_TIMEOUT_MS) {
    problems.push(`round timeout ${plan.roundTimeoutMs} ms outside [1, ${MAX_ROUND_TIMEOUT_MS}]`);
  }
  if (plan.vectorKeys.join(',') !== measurementKeys.join(',')) {
    problems.push("the measurement layout differs from this node's (mixed triad versions?)");
  }
  if (plan.initiatorValue !== undefined && !isVector(plan.initiatorValue)) {
    problems.push(`initiator_value must be ${measurementKeys.length} finite numbers`);
  }
  if (problems.length > 0) return { reason: 'invalid_plan', problem: problems.join('; ') };
  return undefined;
}

/** A report for an epoch this node runs: from a participant about itself, vectors and counts in range. */
export function checkReport(report: EpochReport, from: string, plan: EpochPlan): Refusal | undefined {
  const problems: string[] = [];
  if (report.instance !== from) problems.push(`instance ${report.instance} is not the sender ${from}`);
  if (!isVector(report.snapshot) || !isVector(report.final)) {
    problems.push(`snapshot and final must be ${measurementKeys.length} finite numbers`);
  }
  if (!Number.isInteger(report.roundsRun) || report.roundsRun < 0 || report.roundsRun > plan.rounds) {
    problems.push(`rounds_run ${report.roundsRun} outside [0, ${plan.rounds}]`);
  }
  if (report.dropped.some((d) => !plan.participants.includes(d))) problems.push('dropped names a non-participant');
  return problems.length > 0 ? { reason: 'invalid_report', problem: problems.join('; ') } : undefined;
}

/** What this node saw of an epoch it took part in: who started it, when (this node's clock), with whom. */
export interface KnownEpoch {
  initiator: string;
  participants: readonly string[];
  receivedAtMs: number;
}

/**
 * An outcome published to this node: for an epoch it took part in, from that epoch's initiator, dated within the
 * clock skew of when this node saw the plan, with the configured topology and members only, every figure finite and
 * in range. Anything else is dropped: an outcome feeds gates and metrics on every node.
 */
export function checkOutcome(
  outcome: EpochOutcome,
  from: string,
  known: KnownEpoch | undefined,
  ctx: CheckContext & { topology: string; nowMs: number },
): Refusal | undefined {
  if (!known) return { reason: 'unknown_epoch', problem: `epoch ${outcome.epochId} is not one this node took part in` };
  const skew = ctx.limits.maxClockSkewMs;
  if (!finite(outcome.startedAtMs) || outcome.startedAtMs > Math.min(ctx.nowMs, known.receivedAtMs) + skew) {
    return { reason: 'future', problem: `started_at_ms ${outcome.startedAtMs} is ahead of this node's clock` };
  }
  if (outcome.startedAtMs < known.receivedAtMs - skew) {
    return { reason: 'stale', problem: `started_at_ms ${outcome.startedAtMs} is older than the epoch's plan` };
  }
  const problems: string[] = [];
  if (outcome.initiator !== from || known.initiator !== from) {
    problems.push(`published by ${from}, not by the epoch's initiator ${known.initiator}`);
  }
  if (outcome.topology !== ctx.topology) problems.push(`topology ${outcome.topology} is not ${ctx.topology}`);
  if (!Number.isInteger(outcome.rounds) || outcome.rounds < 0 || outcome.rounds > ctx.limits.maxRounds) {
    problems.push(`rounds ${outcome.rounds} outside [0, ${ctx.limits.maxRounds}]`);
  }
  for (const [name, v] of [
    ['time_seconds', outcome.timeSeconds],
    ['error', outcome.error],
    ['lambda2', outcome.lambda2],
    ['step', outcome.step],
    ['epsilon', outcome.epsilon],
  ] as const) {
    if (!finite(v) || v < 0) problems.push(`${name} ${v} is not a finite number ≥ 0`);
  }
  const names = outcome.members.map((m) => m.member);
  if (new Set(names).size !== names.length || names.some((m) => !ctx.members.has(m))) {
    problems.push('members must be distinct members of the configured cluster');
  }
  if (known.participants.some((p) => !names.includes(p))) problems.push("members miss one of the plan's participants");
  if (outcome.unreachable.some((u) => !names.includes(u))) problems.push('unreachable names a non-member');
  for (const m of outcome.members) {
    const vectorsOk = m.reachable ? isVector(m.final) && isVector(m.snapshot) : m.final.length === 0;
    if (!vectorsOk || !finite(m.divergence) || !finite(m.error) || m.divergence < 0 || m.error < 0) {
      problems.push(`member ${m.member}'s figures are not finite or not ${measurementKeys.length} long`);
      break;
    }
  }
  if (outcome.vectorKeys.join(',') !== measurementKeys.join(',')) problems.push('vector keys differ');
  if (!isVector(outcome.agreed)) problems.push(`agreed must be ${measurementKeys.length} finite numbers`);
  return problems.length > 0 ? { reason: 'invalid_outcome', problem: problems.join('; ') } : undefined;
}
