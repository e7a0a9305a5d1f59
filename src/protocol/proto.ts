import path from 'node:path';
import { loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { projectRoot } from '../shared/index.js';

const protoDir = path.join(projectRoot, 'proto');

/** Field names stay snake_case as in the .proto (STYLE §1); int64 comes back as a JS number (all ours fit in 2^53). */
const loaderOptions: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDir],
};

export const protoFiles = [
  'triad/v1/node.proto',
  'triad/v1/peer.proto',
  'triad/v1/admin.proto',
  'triad/v1/ingest.proto',
  'triad/v1/rollouts.proto',
];

// Loaded once per process: parsing the .proto files costs a few milliseconds and every client and server shares it.
const packageDefinition = loadSync(protoFiles, loaderOptions);
const loaded = loadPackageDefinition(packageDefinition) as unknown as {
  triad: { v1: Record<string, ServiceClientConstructor> };
};

export type ServiceName = 'Node' | 'Peer' | 'Admin' | 'Ingest' | 'Rollouts';

export function serviceConstructor(name: ServiceName): ServiceClientConstructor {
  const ctor = loaded.triad.v1[name];
  if (!ctor) throw new Error(`service triad.v1.${name} is not defined in ${protoFiles.join(', ')}`);
  return ctor;
}
