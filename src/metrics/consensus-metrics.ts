import { Counter, Gauge, type Registry } from 'prom-client';

/** The epoch result as the metrics need it (a subset of consensus's EpochOutcome). */
export interface EpochFigures {
  topology: string;
  error: number;
  converged: boolean;
  timeSeconds: number;
  rounds: number;
  lambda2: number;
  members: readonly { member: string; divergence: number }[];
}

export interface ConsensusMetrics {
  /** Publishes one epoch's outcome (every node does, for the outcomes it takes part in or receives). */
  record(epoch: EpochFigures): void;
  /**
   * W-MSR's verdict on the last epoch: 1 for each member flagged as reporting values outside the others' agreement,
   * 0 for the rest. `members` come from the configured cluster only, so the series are bounded.
   */
  recordSuspects(members: readonly string[], suspects: readonly string[]): void;
}

/** The `result` label of consensus_epochs_total. */
const epochResults = ['converged', 'diverged'] as const;

/** `topology`: the cluster's topology label (K3, C5, …); its counters exist, at 0, before the first epoch. */
export function createConsensusMetrics(registry: Registry, topology: string): ConsensusMetrics {
  const registers = [registry];
  const error = new Gauge({
    name: 'consensus_error',
    help: 'Last epoch: max over instances of ‖x_i − x̄‖∞ / max(1, ‖x̄‖∞); an instance that could not take part counts as 1.',
    labelNames: ['topology'],
    registers,
  });
  const time = new Gauge({
    name: 'consensus_time_seconds',
    help: 'Last epoch: seconds from its start until every reachable node held its final value.',
    labelNames: ['topology'],
    registers,
  });
  const converged = new Gauge({
    name: 'consensus_converged',
    help: '1 when the last epoch ended with consensus_error below the configured epsilon, else 0.',
    labelNames: ['topology'],
    registers,
  });
  const rounds = new Gauge({
    name: 'consensus_rounds',
    help: 'Rounds the last epoch ran.',
    labelNames: ['topology'],
    registers,
  });
  const roundsTotal = new Counter({
    name: 'consensus_rounds_total',
    help: 'Consensus rounds run since this node started.',
    labelNames: ['topology'],
    registers,
  });
  const epochs = new Counter({
    name: 'consensus_epochs_total',
    help: 'Consensus epochs whose outcome this node recorded, by result.',
    labelNames: ['topology', 'result'],
    registers,
  });
  const lambda2 = new Gauge({
    name: 'consensus_lambda2',
    help: 'Algebraic connectivity λ₂ of the graph the last epoch ran on (unreachable nodes removed).',
    labelNames: ['topology'],
    registers,
  });
  const divergence = new Gauge({
    name: 'instance_divergence',
    help: "How far the member's own measurement sat from the cluster mean in the last epoch (1 when it could not be read).",
    labelNames: ['member'],
    registers,
  });
  const suspect = new Gauge({
    name: 'consensus_suspect',
    help: "1 when the member's values sat outside the other members' agreement in the last epoch (W-MSR), else 0.",
    labelNames: ['member'],
    registers,
  });
  roundsTotal.inc({ topology }, 0);
  for (const result of epochResults) epochs.inc({ topology, result }, 0);
  return {
    record(epoch) {
      const labels = { topology: epoch.topology };
      error.set(labels, epoch.error);
      time.set(labels, epoch.timeSeconds);
      converged.set(labels, epoch.converged ? 1 : 0);
      rounds.set(labels, epoch.rounds);
      roundsTotal.inc(labels, epoch.rounds);
      epochs.inc({ ...labels, result: epoch.converged ? 'converged' : 'diverged' });
      lambda2.set(labels, epoch.lambda2);
      for (const m of epoch.members) divergence.set({ member: m.member }, m.divergence);
    },
    recordSuspects(members, suspects) {
      for (const member of members) suspect.set({ member }, suspects.includes(member) ? 1 : 0);
    },
  };
}
