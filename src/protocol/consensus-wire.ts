// Consensus messages between their wire form (peer.proto, snake_case, proto3 defaults) and the consensus component's.
import type {
  ConsensusMessage,
  EpochOutcome,
  EpochPlan,
  EpochReport,
  MemberResult,
  RoundValue,
} from '../consensus/index.js';
import type {
  EpochOutcome as WireOutcome,
  EpochPlan as WirePlan,
  EpochReport as WireReport,
  MemberResult as WireMember,
  PeerMessage,
  RoundMessage,
} from './messages.js';

export function toWirePeerMessage(message: ConsensusMessage): PeerMessage {
  switch (message.kind) {
    case 'plan':
      return { from: message.from, plan: toWirePlan(message.plan) };
    case 'round':
      return { from: message.from, round: toWireRound(message.round) };
    case 'report':
      return { from: message.from, report: toWireReport(message.report) };
    case 'outcome':
      return { from: message.from, outcome: toWireOutcome(message.outcome) };
  }
}

/** The message as consensus sees it, or undefined when the wire message carries no body. */
export function fromWirePeerMessage(wire: PeerMessage): ConsensusMessage | undefined {
  if (wire.plan) return { kind: 'plan', from: wire.from, plan: fromWirePlan(wire.plan) };
  if (wire.round) return { kind: 'round', from: wire.from, round: fromWireRound(wire.round) };
  if (wire.report) return { kind: 'report', from: wire.from, report: fromWireReport(wire.report) };
  if (wire.outcome) return { kind: 'outcome', from: wire.from, outcome: fromWireOutcome(wire.outcome) };
  return undefined;
}

function toWirePlan(p: EpochPlan): WirePlan {
  return {
    epoch_id: p.epochId,
    initiator: p.initiator,
    participants: p.participants,
    edges: p.edges,
    step: p.step,
    rounds: p.rounds,
    round_timeout_ms: p.roundTimeoutMs,
    vector_keys: p.vectorKeys,
    initiator_value: p.initiatorValue ?? [],
  };
}

function fromWirePlan(p: WirePlan): EpochPlan {
  return {
    epochId: p.epoch_id,
    initiator: p.initiator,
    participants: p.participants,
    edges: p.edges,
    step: p.step,
    rounds: p.rounds,
    roundTimeoutMs: p.round_timeout_ms,
    vectorKeys: p.vector_keys,
    // proto3 has no absent repeated field: empty means the initiator sends round 0 itself.
    ...(p.initiator_value.length > 0 ? { initiatorValue: p.initiator_value } : {}),
  };
}

function toWireRound(r: RoundValue): RoundMessage {
  return { epoch_id: r.epochId, from: r.from, round: r.round, value: r.value };
}

function fromWireRound(r: RoundMessage): RoundValue {
  return { epochId: r.epoch_id, from: r.from, round: r.round, value: r.value };
}

function toWireReport(r: EpochReport): WireReport {
  return {
    epoch_id: r.epochId,
    instance: r.instance,
    snapshot: r.snapshot,
    final: r.final,
    rounds_run: r.roundsRun,
    dropped: r.dropped,
  };
}

function fromWireReport(r: WireReport): EpochReport {
  return {
    epochId: r.epoch_id,
    instance: r.instance,
    snapshot: r.snapshot,
    final: r.final,
    roundsRun: r.rounds_run,
    dropped: r.dropped,
  };
}

export function toWireOutcome(o: EpochOutcome): WireOutcome {
  return {
    epoch_id: o.epochId,
    initiator: o.initiator,
    topology: o.topology,
    started_at_ms: o.startedAtMs,
    time_seconds: o.timeSeconds,
    error: o.error,
    converged: o.converged,
    rounds: o.rounds,
    lambda2: o.lambda2,
    step: o.step,
    epsilon: o.epsilon,
    unreachable: o.unreachable,
    members: o.members.map(toWireMember),
    vector_keys: o.vectorKeys,
    agreed: o.agreed,
  };
}

export function fromWireOutcome(o: WireOutcome): EpochOutcome {
  return {
    epochId: o.epoch_id,
    initiator: o.initiator,
    topology: o.topology,
    startedAtMs: o.started_at_ms,
    timeSeconds: o.time_seconds,
    error: o.error,
    converged: o.converged,
    rounds: o.rounds,
    lambda2: o.lambda2,
    step: o.step,
    epsilon: o.epsilon,
    unreachable: o.unreachable,
    members: o.members.map(fromWireMember),
    vectorKeys: o.vector_keys,
    agreed: o.agreed,
  };
}

function toWireMember(m: MemberResult): WireMember {
  return {
    member: m.member,
    reachable: m.reachable,
    divergence: m.divergence,
    error: m.error,
    final: m.final,
    rounds_run: m.roundsRun,
    snapshot: m.snapshot,
  };
}

function fromWireMember(m: WireMember): MemberResult {
  return {
    member: m.member,
    reachable: m.reachable,
    divergence: m.divergence,
    error: m.error,
    final: m.final,
    roundsRun: m.rounds_run,
    snapshot: m.snapshot,
  };
}
