import { TriadError, type Clock, type Logger } from '../shared/index.js';
import { localUpdate } from './laplacian.js';
import { Mailbox } from './mailbox.js';
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
}

/**
 * One node's part in consensus epochs: snapshot the measurement, then each round send the current value to every
 * neighbour and apply x_i ← x_i + a·Σ_j w_ij (x_j − x_i) with the values received. A neighbour whose value misses a
 * round's deadline is dropped for the rest of the epoch: that is how a dead or partitioned node leaves the
 * effective graph without stalling the others.
 */
export class EpochParticipant {
  private readonly rounds: Mailbox<number[]>;
  private runs = 0;

  constructor(private readonly deps: ParticipantDeps) {
    this.rounds = new Mailbox(deps.clock);
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
    const { self, transport } = this.deps;
    validatePlan(plan, self);
    // Late round messages of finished epochs would otherwise pile up; a minute covers any straggler.
    if (++this.runs % 256 === 0) this.rounds.collect(60_000);
    const neighbours = new Map<string, number>();
    for (const e of plan.edges) {
      if (e.a === self) neighbours.set(e.b, e.weight);
      else if (e.b === self) neighbours.set(e.a, e.weight);
    }
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
      x = localUpdate(
        current,
        received.filter((r) => r !== undefined),
        plan.step,
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
  deliverRound(message: RoundValue): void {
    if (
      !Array.isArray(message.value) ||
      message.value.length !== measurementKeys.length ||
      message.value.some((v) => !Number.isFinite(v))
    ) {
      this.deps.log.warn(
        { operation: 'consensus_round', epoch_id: message.epochId, peer: message.from },
        'malformed round value ignored',
      );
      return;
    }
    this.rounds.put(message.epochId, `${message.from}:${message.round}`, message.value);
  }
}

function validatePlan(plan: EpochPlan, self: string): void {
  const problems: string[] = [];
  if (!plan.participants.includes(self)) problems.push(`${self} is not a participant`);
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
