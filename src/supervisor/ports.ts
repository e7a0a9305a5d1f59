import { createServer } from 'node:net';
import { TriadError } from '../shared/index.js';

export interface PortClaim {
  host: string;
  port: number;
  /** "alpha gRPC", for the error message. */
  owner: string;
}

/** Fails fast, naming the port and its intended owner, instead of letting children crash-loop on EADDRINUSE. */
export async function assertPortsFree(claims: readonly PortClaim[]): Promise<void> {
  const busy: string[] = [];
  for (const claim of claims) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(claim.port, claim.host, () => server.close(() => resolve(true)));
    });
    if (!free) busy.push(`${claim.host}:${claim.port} (${claim.owner})`);
  }
  if (busy.length > 0) {
    throw new TriadError(
      'STARTUP_FAILED',
      `port${busy.length > 1 ? 's' : ''} already in use: ${busy.join(', ')}. Is a cluster already running? ('triad status' shows it; stop it or change the ports in the cluster config)`,
    );
  }
}
