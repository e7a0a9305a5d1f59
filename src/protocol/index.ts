export { channelOptions, createServiceClient, protoFiles, serviceConstructor } from './proto.js';
export type { ServiceName } from './proto.js';
export type { Empty, HeartbeatReply, HeartbeatRequest, NodeState, PeerView } from './messages.js';
export { callUnary, unaryHandler } from './rpc.js';
export type { CallOptions, UnaryHandler } from './rpc.js';
