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
