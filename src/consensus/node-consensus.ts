// Consensus as a node runs it: the coordinator and participant wired to a transport, readiness, test hooks.
import { consensusDefaults, type ClusterConfig } from '../config/index.js';
import type { CheckResult } from '../health/index.js';
import type { ConsensusMetrics } from '../metrics/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import type { ConsensusLimits, ConsensusRejection } from './checks.js';
import { ConsensusCoordinator, type RunEpochOptions } from './coordinator.js';
import { createEpochPlanner, topologyLabel } from './epoch-planner.js';
import { measurementKeys } from './measurement.js';
import type { ConsensusMessage, EpochOutcome } from './messages.js';
import { suspectsOf } from './outcome.js';
import { EpochParticipant, type PeerTransport } from './participant.js';
import { analyzeResilience } from './resilience.js';
import { graphFromCluster } from './topology.js';

export interface ConsensusDeps {
  self: string;
  cluster: Pick<ClusterConfig, 'topology' | 'edges' | 'instances' | 'consensus'>;
  /** How often the leader starts an epoch (the profile's). */
  epochIntervalMs: number;
  transport: PeerTransport;
  /** This node's measurement vector m_i (zeros until the runtime supplies one). */
  measure: () => number[];
  isReachable: (member: string) => boolean;
  isLeader: () => boolean;
  clock: Clock;
  log: Logger;
  metrics: ConsensusMetrics;
  /** Lets tests set this node's measurement directly (TRIAD_TEST_HOOKS=1). */
  testHooks: boolean;
  /** A peer's consensus message dropped by a check (triad_peer_messages_rejected_total{reason}). */
  onRejected?: (reason: ConsensusRejection) => void;
}

export type Consensus = ReturnType<typeof createConsensus>;

export function createConsensus(deps: ConsensusDeps) {
  const { self, cluster, clock, log } = deps;
  const members = cluster.instances.map((i) => i.name);
  const c = cluster.consensus;
  const limits: ConsensusLimits = {
    maxClockSkewMs: c.maxClockSkewMs ?? consensusDefaults.maxClockSkewMs,
    maxRounds: c.maxRounds ?? consensusDefaults.maxRounds,
    maxConcurrentEpochs: c.maxConcurrentEpochs ?? consensusDefaults.maxConcurrentEpochs,
    mailboxMaxEpochs: c.mailbox?.maxEpochs ?? consensusDefaults.mailboxMaxEpochs,
    mailboxTtlMs: c.mailbox?.ttlMs ?? consensusDefaults.mailboxTtlMs,
  };
  const resilience = c.resilience ?? { f: 0, rounds: consensusDefaults.resilientRounds };
  const graph = graphFromCluster(cluster);
  if (resilience.f > 0) {
    // Promising to tolerate f liars on a graph that cannot is worse than not promising: refuse to start.
    const verdict = analyzeResilience(graph, resilience.f);
    if (!verdict.tolerates) {
      throw new TriadError('CONFIG_INVALID', `consensus.resilience.f = ${resilience.f}: ${verdict.reason}`);
    }
    if (resilience.rounds > limits.maxRounds) {
      throw new TriadError(
        'CONFIG_INVALID',
        `consensus.resilience.rounds ${resilience.rounds} exceeds consensus.max_rounds ${limits.maxRounds}`,
      );
    }
  }
  const edgeWeights = new Map(graph.edges.map(([a, b, w]) => [[a, b].sort().join('\u0000'), w]));
  let testMeasurement: number[] | undefined;
  const listeners: ((outcome: EpochOutcome) => void)[] = [];
  const participant = new EpochParticipant({
    self,
    clock,
    transport: deps.transport,
    measure: () => testMeasurement ?? deps.measure(),
    log,
    members,
    configuredEdge: (a, b, weight) => edgeWeights.get([a, b].sort().join('\u0000')) === weight,
    limits,
    resilienceF: resilience.f,
  });
  const coordinator = new ConsensusCoordinator({
    self,
    members,
    topology: topologyLabel(cluster),
    planGraph: createEpochPlanner(cluster, cluster.consensus.epsilon, resilience),
    epsilon: cluster.consensus.epsilon,
    roundTimeoutMs: cluster.consensus.roundTimeoutMs,
    isReachable: deps.isReachable,
    participant,
    transport: deps.transport,
    clock,
    log,
    limits,
    resilienceF: resilience.f,
    ...(deps.onRejected ? { onRejected: deps.onRejected } : {}),
    onOutcome: (outcome) => {
      deps.metrics.record(outcome);
      if (resilience.f > 0) {
        const suspects = suspectsOf(outcome, resilience.f);
        deps.metrics.recordSuspects(
          outcome.members.map((m) => m.member),
          suspects,
        );
        if (suspects.length > 0) {
          log.warn(
            { operation: 'consensus_epoch', epoch_id: outcome.epochId, suspects },
            "consensus suspects: values outside the other members' agreement (W-MSR trimmed them)",
          );
        }
      }
      for (const listener of listeners) listener(outcome);
    },
  });

  return {
    /** The configured topology's label (K3, C5, custom): what metrics and status show before the first epoch. */
    topology: topologyLabel(cluster),
    /** Every outcome this node learns from now on, its own or published by another initiator. */
    onOutcome(listener: (outcome: EpochOutcome) => void): void {
      listeners.push(listener);
    },
    /** A message from a peer; `from` has been checked by the edge. */
    deliver: (message: ConsensusMessage): void => coordinator.deliver(message),
    runEpoch: (options: RunEpochOptions = {}): Promise<EpochOutcome> => coordinator.runEpoch(options),
    last: (): EpochOutcome | undefined => coordinator.last(),
    /** Runs an epoch soon instead of an interval later (a new leader, a member back). */
    kick: (): void => coordinator.kick(),
    /** Before the first epoch there is nothing to disagree about; afterwards a diverged epoch makes the node not ready. */
    readinessCheck(): CheckResult {
      const last = coordinator.last();
      if (!last || last.converged) return { ok: true };
      const who = last.unreachable.length > 0 ? `; unreachable: ${last.unreachable.join(', ')}` : '';
      return {
        ok: false,
        reason: `consensus not converged: error ${last.error.toPrecision(3)} ≥ ε ${last.epsilon}${who} (epoch ${last.epochId})`,
      };
    },
    setTestMeasurement(value: readonly number[]): void {
      if (!deps.testHooks) {
        throw new TriadError(
          'PERMISSION_DENIED',
          'test hooks are disabled on this node (TRIAD_TEST_HOOKS=1 enables them)',
        );
      }
      if (value.length !== measurementKeys.length || value.some((v) => !Number.isFinite(v))) {
        throw new TriadError(
          'INPUT_INVALID',
          `expected ${measurementKeys.length} finite numbers, received ${value.length}`,
        );
      }
      testMeasurement = [...value];
    },
    start: (): void => coordinator.start(deps.epochIntervalMs, deps.isLeader),
    stop: (): Promise<void> => coordinator.stop(),
  };
}
