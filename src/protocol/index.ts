export { protoFiles, serviceConstructor } from './proto.js';
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
  LayerFigure,
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
  ConsoleLoginReply,
  ConsoleLoginRequest,
  InjectFaultReply,
  InjectFaultRequest,
  InstanceApply,
  InstanceLayerHealth,
  LayerFault,
  LayerHealth,
  MutationEvent,
  MutationOptions,
  MutationPlan,
  MutationRequest,
  MutationResult,
  R6Result,
  VerifyAuditReply,
  VersionSummary,
  WireGateCheck,
  WireTransition,
} from './admin-messages.js';
export type {
  OperationResult,
  RecordOperationsReply,
  RecordOperationsRequest,
  WireOperation,
} from './ingest-messages.js';
export {
  fromWireMutation,
  toWireAuditVerification,
  toWireCheck,
  toWireErrorDetails,
  toWireHealth,
  toWireInstanceApply,
  toWirePlan,
  toWireResult,
  toWireVersion,
} from './admin-wire.js';
export {
  fromWireFault,
  fromWireFaults,
  fromWireR6,
  toWireFaultRequest,
  toWireFaults,
  toWireR6,
} from './runtime-wire.js';
export { fromWireOutcome, fromWirePeerMessage, toWireOutcome, toWirePeerMessage } from './consensus-wire.js';
export { fromWireOperation, toWireRecordReply } from './ingest-wire.js';
export { toWireNodeState } from './node-wire.js';
export type { NodeStateParts } from './node-wire.js';
export { callerKey, callServerStream, callUnary, serverStreamHandler, unaryHandler } from './rpc.js';
export type { CallOptions, StreamHandler, UnaryHandler } from './rpc.js';
export { toWireCanary } from './canary-wire.js';
export type { CanaryJudgementReply, JudgeCanaryRequest, WireCanaryCheck } from './canary-wire.js';
