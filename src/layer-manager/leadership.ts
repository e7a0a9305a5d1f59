import type { EpochOutcome } from '../consensus/index.js';
import type { Clock, Logger } from '../shared/index.js';
import { createConsensusJournal, type ConsensusMeasurementRow, type StoragePool } from '../storage/index.js';
import type { createAutoRollback } from './auto-rollback.js';
import type { LeaderElection } from './leader.js';

export interface LeadershipDeps {
  self: string;
  election: LeaderElection;
  pool: StoragePool;
  clock: Clock;
  log: Logger;
  /** A peer silent this long is unreachable: what a new leader waits before its epochs may roll anything back. */
  heartbeatTimeoutMs: number;
  autoRollback: ReturnType<typeof createAutoRollback>;
}

/**
 * The cluster-wide duties and who holds them (DESIGN §2): one leader at a time by a PostgreSQL session lock. The leader
 * evaluates the rollback triggers on every epoch's outcome; the initiator of an epoch (the leader, or whoever an
 * operator asked to sync) records its measurement. R6's schedule asks isLeader before it runs.
 */
export function createLeadership(deps: LeadershipDeps) {
  const { clock } = deps;
  let leaderSince: number | undefined;
  const journal = createConsensusJournal({ pool: deps.pool, clock, log: deps.log });
  const { election } = deps;
  election.onChange((leading) => {
    leaderSince = leading ? clock.now() : undefined;
  });
  return {
    get isLeader(): boolean {
      return election.isLeader;
    },
    onOutcome(outcome: EpochOutcome): void {
      // A leader just elected (a cluster starting, or a failover) sees peers it has not heard from yet as unreachable:
      // give heartbeats one timeout to settle before its epochs may roll anything back.
      const settled = leaderSince !== undefined && clock.now() - leaderSince >= deps.heartbeatTimeoutMs;
      if (election.isLeader && settled) deps.autoRollback.evaluate(outcome);
      if (outcome.initiator === deps.self) journal.record(measurementRow(outcome));
    },
    start: () => election.start(),
    async stop(): Promise<void> {
      await election.stop();
      await journal.flush();
    },
  };
}

function measurementRow(outcome: EpochOutcome): ConsensusMeasurementRow {
  return {
    epoch_id: outcome.epochId,
    topology: outcome.topology,
    members: outcome.members.map((m) => m.member),
    unreachable: outcome.unreachable,
    error: outcome.error,
    converged: outcome.converged,
    rounds: outcome.rounds,
    duration_ms: outcome.timeSeconds * 1000,
    lambda2: outcome.lambda2 > 0 ? outcome.lambda2 : null,
    agreed: Object.fromEntries(outcome.vectorKeys.map((k, i) => [k, outcome.agreed[i] ?? 0])),
    measured_at: new Date(outcome.startedAtMs),
  };
}
