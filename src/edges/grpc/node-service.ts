import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  toWireNodeState,
  unaryHandler,
  type HeartbeatReply,
  type HeartbeatRequest,
  type NodeState,
  type NodeStateParts,
} from '../../protocol/index.js';
import type { Logger } from '../../shared/index.js';

export interface NodeServiceDeps {
  log: Logger;
  /** What the node reports of itself; figures are computed only when asked for. */
  describe: (includeFigures: boolean) => NodeStateParts;
  heartbeat: () => { instance: string; uptimeSeconds: number; ready: boolean };
}

/** triad.v1.Node: GetState (what `triad status` shows) and peers' Heartbeats. */
export function nodeService(deps: NodeServiceDeps): UntypedServiceImplementation {
  return {
    GetState: unaryHandler<{ include_figures: boolean }, NodeState>(deps.log, 'GetState', (req) =>
      toWireNodeState(deps.describe(req.include_figures)),
    ),
    Heartbeat: unaryHandler<HeartbeatRequest, HeartbeatReply>(deps.log, 'Heartbeat', () => {
      const h = deps.heartbeat();
      return { instance: h.instance, uptime_seconds: h.uptimeSeconds, ready: h.ready };
    }),
  };
}
