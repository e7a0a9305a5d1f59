import { TriadError, type Clock, type Logger } from '../shared/index.js';
import { checkPlan, checkRound, defaultLimits, type ConsensusLimits, type KnownEpoch, type Refusal } from './checks.js';
import { localUpdate } from './laplacian.js';
import { Mailbox } from './mailbox.js';
import { trimmedUpdate } from './resilience.js';
import { measurementKeys } from './measurement.js';
import type { ConsensusMessage, EpochPlan, EpochReport, RoundValue } from './messages.js';

/** How a node's consensus messages reach a peer: a gRPC stream in production, memory in unit tests. Never throws. */
export interface PeerTransport {
  send(peer: string, message: ConsensusMessage): void;
}

export interface ParticipantDeps {
  self: string;
  clock: Clock;
  transport: PeerTransport;
  /** This node's measurement vector, read once per epoch (the snapshot m_i). */
  measure: () => number[];
  log: Logger;
  /** The configured cluster's members: plans and rounds naming anyone else are refused (default: anyone). */
  members?: readonly string[];
  /** Whether a plan's edge is one of the configured graph (default: any edge). */
  configuredEdge?: (a: string, b: string, weight: number) => boolean;
  limits?: ConsensusLimits;
  /** W-MSR's f (docs/consensus.md): 0 runs the plain Laplacian update. */
  resilienceF?: number;
}

/**
 * One node's part in consensus epochs: snapshot the measurement, then each round send the current value to every
 * neighbour and apply x_i ← x_i + a·Σ_j w_ij (x_j − x_i) with the values received. A neighbour whose value misses a
 * round's deadline is dropped for the rest of the epoch: that is how a dead or partitioned node leaves the
 * effective graph without stalling the others.
 */
export class EpochParticipant {
  private readonly rounds: Mailbox<number[]>;
  private readonly limits: ConsensusLimits;
  private readonly members?: ReadonlySet<string>;
  /** Epochs this node took part in, in arrival order, bounded like the mailbox: outcomes are accepted only for these. */
  private readonly known = new Map<string, KnownEpoch>();
  private active = 0;

  constructor(private readonly deps: ParticipantDeps) {
    this.limits = deps.limits ?? defaultLimits;
    if (deps.members) this.members = new Set(deps.members);
    // A neighbour runs at most one round ahead (it waits for this node's value), so a few values per member suffice.
    const perEpoch = 4 * Math.max(1, deps.members?.length ?? 64) + 4;
    this.rounds = new Mailbox(deps.clock, {
      maxEpochs: this.limits.mailboxMaxEpochs,
      maxPerEpoch: perEpoch,
      ttlMs: this.limits.mailboxTtlMs,
    });
  }

  /**
   * Checks a plan a peer sent before this node runs it: sent by its initiator, within the bounds, not an epoch seen
   * before, and no more than `maxConcurrentEpochs` running. Remembers the epoch (its outcome is accepted later).
   */
  admit(plan: EpochPlan, from: string): Refusal | undefined {
    const members = this.members ?? new Set(plan.participants);
    const refusal = checkPlan(plan, from, {
      members,
      limits: this.limits,
      configuredEdge: this.deps.configuredEdge ?? (() => true),
    });
    if (refusal) return refusal;
    if (this.known.has(plan.epochId)) return { reason: 'invalid_plan', problem: `epoch ${plan.epochId} seen before` };
    if (this.active >= this.limits.maxConcurrentEpochs) {
      return { reason: 'too_many_epochs', problem: `${this.active} epochs already running` };
    }
    this.remember(plan);
    return undefined;
  }

  /** The epoch as this node saw its plan, if it took part in it (recently). */
  epoch(epochId: string): KnownEpoch | undefined {
    return this.known.get(epochId);
  }

  /** Records an epoch this node takes part in; the oldest and the expired are forgotten first. */
  remember(plan: EpochPlan): void {
    const now = this.deps.clock.now();
    for (const [id, e] of this.known) {
      if (this.known.size < this.limits.mailboxMaxEpochs && e.receivedAtMs >= now - this.limits.mailboxTtlMs) break;
      this.known.delete(id);
    }
    this.known.set(plan.epochId, { initiator: plan.initiator, participants: plan.participants, receivedAtMs: now });
  }

  /** This node's measurement vector now: the snapshot m_i an epoch starts from. */
  snapshot(): number[] {
    const x = this.deps.measure();
    if (x.length !== measurementKeys.length) {
      throw new TriadError('INTERNAL', `measurement has ${x.length} entries, expected ${measurementKeys.length}`);
    }
    return [...x];
  }

  /**
   * Runs this node's part of `plan`. The initiator passes the snapshot it already sent as the plan's initiator_value:
   * its neighbours hold its round-0 value from the plan, so it sends no separate round-0 message, and they take it
   * from the plan instead of waiting for one. One message fewer per neighbour, on the epoch's critical path.
   */
  async run(plan: EpochPlan, snapshot: number[] = this.snapshot()): Promise<EpochReport> {
    const { self } = this.deps;
    const f = this.deps.resilienceF ?? 0;
    const neighbours = new Map<string, number>();
    for (const e of plan.edges) {
      if (e.a === self) neighbours.set(e.b, e.weight);
      else if (e.b === self) neighbours.set(e.a, e.weight);
    }
    validatePlan(plan, self, f > 0 ? [...neighbours.values()].reduce((s, w) => s + w, 0) : 0);
    this.active++;
    try {
      return await this.runRounds(plan, snapshot, neighbours, f);
    } finally {
      this.active--;
      this.rounds.forget(plan.epochId);
    }
  }

  private async runRounds(
    plan: EpochPlan,
    snapshot: number[],
    neighbours: Map<string, number>,
    f: number,
  ): Promise<EpochReport> {
    const { self, transport } = this.deps;
    const trimmedRounds = new Map<string, number>();
    this.rounds.open(plan.epochId);
    const carried = plan.initiatorValue !== undefined;
    if (plan.initiatorValue && neighbours.has(plan.initiator)) {
      this.rounds.put(plan.epochId, `${plan.initiator}:0`, plan.initiatorValue);
    }
    let x = snapshot;
    const dropped = new Set<string>();
    for (let round = 0; round < plan.rounds; round++) {
      const current = x;
      const live = [...neighbours].filter(([peer]) => !dropped.has(peer));
      const sentWithPlan = round === 0 && carried && plan.initiator === self;
      for (const [peer] of sentWithPlan ? [] : live) {
        transport.send(peer, {
          kind: 'round',
          from: self,
          round: { epochId: plan.epochId, from: self, round, value: current },
        });
      }
      const received = await Promise.all(
        live.map(async ([peer, weight]) => {
          try {
            const value = await this.rounds.get(
              plan.epochId,
              `${peer}:${round}`,
              plan.roundTimeoutMs,
              `${peer}'s round ${round}`,
            );
            return { value, weight };
          } catch (err) {
            dropped.add(peer);
            this.deps.log.warn(
              { operation: 'consensus_round', epoch_id: plan.epochId, peer, round, err },
              'neighbour dropped from epoch',
            );
            return undefined;
          }
        }),
      );
      const kept = received.flatMap((r, k) => (r ? [{ ...r, peer: live[k]?.[0] ?? '' }] : []));
      if (f > 0) {
        const update = trimmedUpdate(current, kept, plan.step, f);
        for (const k of update.trimmed) {
          const peer = kept[k]?.peer ?? '';
          trimmedRounds.set(peer, (trimmedRounds.get(peer) ?? 0) + 1);
        }
        x = update.value;
      } else {
        x = localUpdate(current, kept, plan.step);
      }
    }
    if (trimmedRounds.size > 0) {
      this.deps.log.debug(
        { operation: 'consensus_epoch', epoch_id: plan.epochId, trimmed_rounds: Object.fromEntries(trimmedRounds) },
        'W-MSR trimmed neighbour values',
      );
    }
    return {
      epochId: plan.epochId,
      instance: self,
      snapshot,
      final: x,
      roundsRun: plan.rounds,
      dropped: [...dropped].sort(),
    };
  }

  /** A neighbour's value for one round of an epoch (possibly before this node has seen the plan). */
  deliverRound(message: RoundValue): Refusal | undefined {
    const refusal = checkRound(message, {
      members: this.members ?? new Set([message.from]),
      limits: this.limits,
    });
    if (refusal) return refusal;
    if (!this.rounds.put(message.epochId, `${message.from}:${message.round}`, message.value)) {
      return { reason: 'mailbox_full', problem: `${this.rounds.size} epochs held` };
    }
    return undefined;
  }
}

/** `degree`: this node's weighted degree under W-MSR, whose update must stay a convex combination (0: unchecked). */
function validatePlan(plan: EpochPlan, self: string, degree: number): void {
  const problems: string[] = [];
  if (!plan.participants.includes(self)) problems.push(`${self} is not a participant`);
  if (degree > 0 && plan.step * degree > 1 + 1e-12) {
    problems.push(`step ${plan.step} × weighted degree ${degree} exceeds 1: W-MSR's update would leave the hull`);
  }
  if (!(plan.step > 0) || !Number.isFinite(plan.step)) problems.push(`step ${plan.step} is not a positive number`);
  if (!Number.isInteger(plan.rounds) || plan.rounds < 0 || plan.rounds > 10_000)
    problems.push(`rounds ${plan.rounds} out of range`);
  if (plan.vectorKeys.join(',') !== measurementKeys.join(',')) {
    problems.push("the measurement layout differs from this node's (mixed triad versions?)");
  }
  const carried = plan.initiatorValue;
  if (carried && (carried.length !== measurementKeys.length || carried.some((v) => !Number.isFinite(v)))) {
    problems.push(`initiator_value must be ${measurementKeys.length} finite numbers, received ${carried.length}`);
  }
  if (problems.length > 0) throw new TriadError('INPUT_INVALID', `epoch ${plan.epochId}: ${problems.join('; ')}`);
}
