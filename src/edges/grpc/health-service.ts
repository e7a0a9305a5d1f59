import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The names the standard grpc.health.v1 service answers for: "" (the whole server) and each triad service. */
const healthServices = ['', 'triad.v1.Node', 'triad.v1.Peer', 'triad.v1.Admin', 'triad.v1.Ingest'];

export interface HealthService {
  /** SERVING while the node is ready (the same verdict as /ready), else NOT_SERVING. */
  setServing(serving: boolean): void;
}

/** The standard grpc.health.v1 service, so any gRPC load balancer or probe can ask a node whether it is ready. */
export function addHealthService(server: Server): HealthService {
  const health = new HealthImplementation(Object.fromEntries(healthServices.map((s) => [s, 'NOT_SERVING'])));
  health.addToServer(server);
  let current: ServingStatus = 'NOT_SERVING';
  return {
    setServing(serving) {
      const next: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
      if (next === current) return;
      current = next;
      for (const s of healthServices) health.setStatus(s, next);
    },
  };
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
