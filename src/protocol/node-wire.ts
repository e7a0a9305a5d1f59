// triad.v1.Node's GetState reply, assembled from what each component reports of itself.
import type { ClusterConfig } from '../config/index.js';
import type { EpochOutcome } from '../consensus/index.js';
import type { PeerView } from '../membership/index.js';
import type { LayerFigure as DomainFigure } from '../runtime/index.js';
import type { ConsensusView, LayerFigure, NodeState } from './messages.js';

export interface NodeStateParts {
  instance: string;
  version: string;
  uptimeSeconds: number;
  startedAtMs: number;
  peers: readonly PeerView[];
  layers: { appliedVersion: number; activeLayers: string[]; leader: boolean };
  figures?: { local: DomainFigure[]; agreed: DomainFigure[] };
  readiness: { ready: boolean; reasons: string[] };
  topology: ClusterConfig['topology'];
  httpAddress: string;
  clusterName: string;
  /** The configured topology's label, shown until the first epoch reports its own. */
  topologyLabel: string;
  consensus: EpochOutcome | undefined;
}

export function toWireNodeState(p: NodeStateParts): NodeState {
  return {
    instance: p.instance,
    version: p.version,
    uptime_seconds: p.uptimeSeconds,
    started_at_ms: p.startedAtMs,
    peers: p.peers.map((peer) => ({
      instance: peer.instance,
      address: peer.address,
      reachable: peer.reachable,
      last_seen_ms_ago: peer.lastSeenMsAgo ?? -1,
      rtt_ms: peer.rttMs,
    })),
    applied_version: p.layers.appliedVersion,
    active_layers: p.layers.activeLayers,
    leader: p.layers.leader,
    local_layers: (p.figures?.local ?? []).map(toWireFigure),
    agreed_layers: (p.figures?.agreed ?? []).map(toWireFigure),
    ready: p.readiness.ready,
    not_ready_reasons: p.readiness.reasons,
    topology: p.topology,
    http_address: p.httpAddress,
    cluster_name: p.clusterName,
    consensus: toWireConsensusView(p.consensus, p.topologyLabel),
  };
}

function toWireFigure(f: DomainFigure): LayerFigure {
  return {
    layer: f.layer,
    active: f.active,
    percentage: f.percentage,
    has_amplification: f.amplification !== undefined,
    amplification: f.amplification ?? 0,
    has_error_rate: f.errorRate !== undefined,
    error_rate: f.errorRate ?? 0,
    burden_rate: f.burdenRate,
    samples: f.samples,
    reporting_instances: f.reportingInstances,
  };
}

function toWireConsensusView(last: EpochOutcome | undefined, topology: string): ConsensusView {
  return {
    has_epoch: last !== undefined,
    topology: last?.topology ?? topology,
    lambda2: last?.lambda2 ?? 0,
    error: last?.error ?? 0,
    converged: last?.converged ?? false,
    last_epoch_at_ms: last?.startedAtMs ?? 0,
    time_seconds: last?.timeSeconds ?? 0,
    rounds: last?.rounds ?? 0,
    epoch_id: last?.epochId ?? '',
    unreachable: last?.unreachable ?? [],
  };
}
