// TypeScript shapes of the triad.v1 messages as @grpc/proto-loader delivers them (keepCase, longs as numbers).

export interface PeerView {
  instance: string;
  address: string;
  reachable: boolean;
  last_seen_ms_ago: number;
  rtt_ms: number;
}

export interface NodeState {
  instance: string;
  version: string;
  uptime_seconds: number;
  started_at_ms: number;
  peers: PeerView[];
  active_layers: string[];
  ready: boolean;
  not_ready_reasons: string[];
  topology: string;
  http_address: string;
  cluster_name: string;
  consensus: ConsensusView;
  applied_version: number;
  leader: boolean;
  local_layers: LayerFigure[];
  agreed_layers: LayerFigure[];
}

export interface LayerFigure {
  layer: string;
  active: boolean;
  percentage: number;
  has_amplification: boolean;
  amplification: number;
  has_error_rate: boolean;
  error_rate: number;
  burden_rate: number;
  samples: number;
  reporting_instances: number;
}

export interface ConsensusView {
  has_epoch: boolean;
  topology: string;
  lambda2: number;
  error: number;
  converged: boolean;
  last_epoch_at_ms: number;
  time_seconds: number;
  rounds: number;
  epoch_id: string;
  unreachable: string[];
}

export interface HeartbeatRequest {
  from: string;
  sent_at_ms: number;
}

export interface HeartbeatReply {
  instance: string;
  uptime_seconds: number;
  ready: boolean;
}

export type Empty = Record<string, never>;

export interface Edge {
  a: string;
  b: string;
  weight: number;
}

export interface EpochPlan {
  epoch_id: string;
  initiator: string;
  participants: string[];
  edges: Edge[];
  step: number;
  rounds: number;
  round_timeout_ms: number;
  vector_keys: string[];
  /** The initiator's round-0 value (its snapshot); empty when it sends round 0 like any other round. */
  initiator_value: number[];
}

export interface EpochReport {
  epoch_id: string;
  instance: string;
  snapshot: number[];
  final: number[];
  rounds_run: number;
  dropped: string[];
}

export interface RoundMessage {
  epoch_id: string;
  from: string;
  round: number;
  value: number[];
}

export interface MemberResult {
  member: string;
  reachable: boolean;
  divergence: number;
  error: number;
  final: number[];
  rounds_run: number;
  snapshot: number[];
}

export interface EpochOutcome {
  epoch_id: string;
  initiator: string;
  topology: string;
  started_at_ms: number;
  time_seconds: number;
  error: number;
  converged: boolean;
  rounds: number;
  lambda2: number;
  step: number;
  epsilon: number;
  unreachable: string[];
  members: MemberResult[];
  vector_keys: string[];
  agreed: number[];
}

export interface ForceConsensusSyncRequest {
  instances: string[];
}

export interface SetTestMeasurementRequest {
  value: number[];
}

/** One message on a peer link; exactly one of the bodies is set (`body` names it when decoded). */
export interface PeerMessage {
  from: string;
  body?: 'plan' | 'round' | 'report' | 'outcome';
  plan?: EpochPlan | null;
  round?: RoundMessage | null;
  report?: EpochReport | null;
  outcome?: EpochOutcome | null;
}
