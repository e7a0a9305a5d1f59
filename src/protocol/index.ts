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
export type {
  ApplyReply,
  ApplyRequest,
  HealthReport,
  InstanceApply,
  LayerHealth,
  MutationEvent,
  MutationOptions,
  MutationPlan,
  MutationRequest,
  MutationResult,
  VerifyAuditReply,
  VersionSummary,
  WireGateCheck,
  WireTransition,
} from './admin-messages.js';
export { callServerStream, callUnary, serverStreamHandler, unaryHandler } from './rpc.js';
export type { CallOptions, StreamHandler, UnaryHandler } from './rpc.js';
