export { channelOptions, connectionLimits, createConnections, maxConcurrentStreams } from './connections.js';
export type { Connections, ServerBounds } from './connections.js';
export { CertificateFiles, mutualTlsCredentials, plaintextCredentials } from './credentials.js';
export type { CertificateFilePaths, TransportCredentials } from './credentials.js';
export { recordOperations } from './ingest-client.js';
export type { RecordOperationsOptions } from './ingest-client.js';
export { createNodeCalls } from './node-calls.js';
export type { NodeCalls } from './node-calls.js';
export { createPeerLinks } from './peer-links.js';
