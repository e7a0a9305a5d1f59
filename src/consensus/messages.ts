/**
 * What consensus nodes say to each other, as the consensus component sees it. The wire form (peer.proto) is mapped
 * to and from these at the edge (protocol/), so the protocol can change without the algorithm noticing.
 */

export interface Edge {
  a: string;
  b: string;
  weight: number;
}

/** The initiator's instructions for one epoch: who takes part, on which graph, with which step and for how long. */
export interface EpochPlan {
  epochId: string;
  initiator: string;
  participants: string[];
  edges: Edge[];
  step: number;
  rounds: number;
  roundTimeoutMs: number;
  /** The measurement layout (mixed triad versions must not average different things). */
  vectorKeys: string[];
  /** The initiator's round-0 value (its snapshot); absent when it sends round 0 like any other round. */
  initiatorValue?: number[];
}

/** One node's value for one round, sent to each of its neighbours. */
export interface RoundValue {
  epochId: string;
  from: string;
  round: number;
  value: number[];
}

/** A participant's account of an epoch, sent to the initiator: where it started and where it ended. */
export interface EpochReport {
  epochId: string;
  instance: string;
  snapshot: number[];
  final: number[];
  roundsRun: number;
  dropped: string[];
}

export interface MemberResult {
  member: string;
  /** False when the member did not report: its error and divergence are then 1 (unknown is never agreement). */
  reachable: boolean;
  divergence: number;
  error: number;
  final: number[];
  roundsRun: number;
  snapshot: number[];
}

/** What an epoch measured, published by its initiator to every participant (all nodes then agree on it). */
export interface EpochOutcome {
  epochId: string;
  initiator: string;
  topology: string;
  startedAtMs: number;
  timeSeconds: number;
  error: number;
  converged: boolean;
  rounds: number;
  lambda2: number;
  step: number;
  epsilon: number;
  unreachable: string[];
  members: MemberResult[];
  vectorKeys: string[];
  agreed: number[];
}

/** One message on a peer link; `from` is the sender as the transport vouches for it. */
export type ConsensusMessage =
  | { kind: 'plan'; from: string; plan: EpochPlan }
  | { kind: 'round'; from: string; round: RoundValue }
  | { kind: 'report'; from: string; report: EpochReport }
  | { kind: 'outcome'; from: string; outcome: EpochOutcome };
