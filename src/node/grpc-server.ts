import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { serviceConstructor, type ServiceName } from '../protocol/index.js';
import { TriadError } from '../shared/index.js';

/** The names the standard grpc.health.v1 service answers for: "" (the whole server) and each triad service. */
const healthServices = ['', 'triad.v1.Node', 'triad.v1.Peer', 'triad.v1.Admin', 'triad.v1.Ingest'];

export interface GrpcEndpoint {
  server: Server;
  health: HealthImplementation;
  setServing(serving: boolean): void;
}

export function createGrpcServer(services: Partial<Record<ServiceName, UntypedServiceImplementation>>): GrpcEndpoint {
  const server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  for (const [name, implementation] of Object.entries(services)) {
    server.addService(serviceConstructor(name as ServiceName).service, implementation);
  }
  const health = new HealthImplementation(Object.fromEntries(healthServices.map((s) => [s, 'NOT_SERVING'])));
  health.addToServer(server);
  let current: ServingStatus = 'NOT_SERVING';
  return {
    server,
    health,
    setServing(serving) {
      const next: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
      if (next === current) return;
      current = next;
      for (const s of healthServices) health.setStatus(s, next);
    },
  };
}

export function bindGrpc(server: Server, host: string, port: number, instance: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, boundPort) => {
      if (err) {
        reject(
          new TriadError('STARTUP_FAILED', `${instance}: cannot listen for gRPC on ${host}:${port} (${err.message})`, {
            cause: err,
          }),
        );
      } else resolve(boundPort);
    });
  });
}

/** Lets in-flight calls finish, then forces the rest closed after `forceAfterMs` so a hung client cannot block exit. */
export function shutdownGrpc(server: Server, forceAfterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, forceAfterMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
