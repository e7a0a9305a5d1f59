import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { TriadConfig } from '../config/index.js';
import {
  ConsensusCoordinator,
  createEpochPlanner,
  emptyMeasurement,
  EpochParticipant,
  measurementKeys,
  topologyLabel,
} from '../consensus/index.js';
import type { CheckResult } from '../health/index.js';
import type { ConsensusMetrics } from '../metrics/index.js';
import {
  unaryHandler,
  type ConsensusView,
  type EpochOutcome,
  type ForceConsensusSyncRequest,
  type SetTestMeasurementRequest,
} from '../protocol/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import { createPeerLinks, peerLinkHandler } from './peer-transport.js';

export interface ConsensusEdgeDeps {
  config: TriadConfig;
  self: string;
  clock: Clock;
  log: Logger;
  metrics: ConsensusMetrics;
  isReachable: (member: string) => boolean;
  /** This node's measurement vector; the runtime supplies it (zeros until it does). */
  measure?: () => number[];
  isLeader: () => boolean;
  onOutcome: (outcome: EpochOutcome) => void;
}

/**
 * Wires the consensus component to gRPC: the Peer service other nodes call, the Admin calls operators make, the
 * readiness check and the view GetState reports.
 */
export function createConsensusEdge(deps: ConsensusEdgeDeps) {
  const { config, self, clock, log } = deps;
  const members = config.cluster.instances.map((i) => i.name);
  const peers = new Map(
    config.cluster.instances.filter((i) => i.name !== self).map((i) => [i.name, `${i.host}:${i.grpcPort}`]),
  );
  const transport = createPeerLinks(peers, log);
  let testMeasurement: number[] | undefined;
  const measure = () => testMeasurement ?? deps.measure?.() ?? emptyMeasurement();
  const participant = new EpochParticipant({
    self,
    clock,
    transport,
    measure,
    log,
  });
  const coordinator = new ConsensusCoordinator({
    self,
    members,
    topology: topologyLabel(config.cluster),
    planGraph: createEpochPlanner(config.cluster, config.cluster.consensus.epsilon),
    epsilon: config.cluster.consensus.epsilon,
    roundTimeoutMs: config.cluster.consensus.roundTimeoutMs,
    isReachable: deps.isReachable,
    participant,
    transport,
    clock,
    log,
    onOutcome: (outcome) => {
      deps.metrics.record(outcome);
      deps.onOutcome(outcome);
    },
  });

  const view = (): ConsensusView => {
    const last = coordinator.last();
    return {
      has_epoch: last !== undefined,
      topology: last?.topology ?? topologyLabel(config.cluster),
      lambda2: last?.lambda2 ?? 0,
      error: last?.error ?? 0,
      converged: last?.converged ?? false,
      last_epoch_at_ms: last?.started_at_ms ?? 0,
      time_seconds: last?.time_seconds ?? 0,
      rounds: last?.rounds ?? 0,
      epoch_id: last?.epoch_id ?? '',
      unreachable: last?.unreachable ?? [],
    };
  };

  // Before the first epoch there is nothing to disagree about; afterwards a diverged epoch makes the node not ready.
  const readinessCheck = (): CheckResult => {
    const last = coordinator.last();
    if (!last || last.converged) return { ok: true };
    const who = last.unreachable.length > 0 ? `; unreachable: ${last.unreachable.join(', ')}` : '';
    return {
      ok: false,
      reason: `consensus not converged: error ${last.error.toPrecision(3)} ≥ ε ${last.epsilon}${who} (epoch ${last.epoch_id})`,
    };
  };

  const inboundLinks = peerLinkHandler(new Set(members), (message) => coordinator.deliver(message), log);
  const peerService: UntypedServiceImplementation = { Link: inboundLinks };

  const adminHandlers: UntypedServiceImplementation = {
    ForceConsensusSync: unaryHandler<ForceConsensusSyncRequest, EpochOutcome>(log, 'ForceConsensusSync', (req) =>
      coordinator.runEpoch(req.instances.length > 0 ? { instances: req.instances } : {}),
    ),
    SetTestMeasurement: unaryHandler<SetTestMeasurementRequest, object>(log, 'SetTestMeasurement', (req) => {
      if (!config.env.testHooks) {
        throw new TriadError(
          'PERMISSION_DENIED',
          'test hooks are disabled on this node (TRIAD_TEST_HOOKS=1 enables them)',
        );
      }
      if (req.value.length !== measurementKeys.length || req.value.some((v) => !Number.isFinite(v))) {
        throw new TriadError(
          'INPUT_INVALID',
          `expected ${measurementKeys.length} finite numbers, received ${req.value.length}`,
        );
      }
      testMeasurement = [...req.value];
      return {};
    }),
  };

  return {
    coordinator,
    peerService,
    adminHandlers,
    readinessCheck,
    view,
    start: () =>
      coordinator.start(
        config.env.profile === 'demo' ? config.cluster.consensus.demoIntervalMs : config.cluster.consensus.intervalMs,
        deps.isLeader,
      ),
    async stop() {
      await coordinator.stop();
      transport.close();
      inboundLinks.close();
    },
  };
}
