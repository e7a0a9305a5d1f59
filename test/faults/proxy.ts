import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on the bridge address standing for a service (PostgreSQL, Redis) as one node sees it. The nodes live in
 * namespaces and cannot reach the machine's 127.0.0.1; each gets a proxy of its own, so "the leader loses PostgreSQL"
 * can be one node's proxy, and "PostgreSQL restarts" every proxy at once. sever() drops every open connection (the
 * peer sees a reset: a server restart, or a transaction cut half-way) and refuses new ones until restore().
 */
export interface ServiceProxy {
  readonly host: string;
  readonly port: number;
  sever(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startServiceProxy(
  listenHost: string,
  targetHost: string,
  targetPort: number,
): Promise<ServiceProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let down = false;
  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    upstream.on('error', () => undefined);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const dropAll = () => {
    for (const [a, b] of pairs) {
      a.resetAndDestroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    host: listenHost,
    port: address.port,
    sever() {
      down = true;
      dropAll();
    },
    restore() {
      down = false;
    },
    close() {
      down = true;
      dropAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
