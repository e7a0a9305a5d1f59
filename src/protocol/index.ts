export { channelOptions, createServiceClient, protoFiles, serviceConstructor } from './proto.js';
export type { ServiceName } from './proto.js';
export type {
  ConsensusView,
  Edge,
  Empty,
  EpochOutcome,
  EpochPlan,
  EpochReport,
  ForceConsensusSyncRequest,
  HeartbeatReply,
  HeartbeatRequest,
  MemberResult,
  NodeState,
  PeerMessage,
  PeerView,
  RoundMessage,
  SetTestMeasurementRequest,
} from './messages.js';
export { callUnary, unaryHandler } from './rpc.js';
export type { CallOptions, UnaryHandler } from './rpc.js';
