export { adminService } from './grpc/admin-service.js';
export { rolloutsService } from './grpc/rollouts-service.js';
export { createAuthorizer, methodRoles } from './grpc/authz.js';
export {
  boundedDeserializer,
  createBoundsInterceptor,
  maxMessageBytes,
  maxRepeated,
  messageBoundOf,
  messageBounds,
  requestProblem,
  textBounds,
  textProblem,
} from './grpc/bounds.js';
export type { Authorizer } from './grpc/authz.js';
export type { AdminServiceDeps } from './grpc/admin-service.js';
export { addHealthService, shutdownGrpc } from './grpc/health-service.js';
export type { HealthService } from './grpc/health-service.js';
export { ingestService } from './grpc/ingest-service.js';
export { nodeService } from './grpc/node-service.js';
export type { NodeServiceDeps } from './grpc/node-service.js';
export { peerService } from './grpc/peer-service.js';
export type { PeerServiceDeps } from './grpc/peer-service.js';
export { createHttpServer, listenHttp } from './http/server.js';
export type { HttpEndpoints } from './http/server.js';
