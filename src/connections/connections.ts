import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import {
  Channel,
  connectivityState,
  Server,
  type ServerCredentials,
  type ServiceDefinition,
  type Client,
  type ServerInterceptor,
  type ServerOptions,
  type ServiceClientConstructor,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { serviceConstructor, type ServiceName } from '../protocol/index.js';
import { TriadError } from '../shared/index.js';
import type { TransportCredentials } from './credentials.js';

/**
 * A dead peer must be noticed, and a restarted one found again, within a heartbeat or two: grpc-js' default
 * reconnect backoff grows to two minutes, which would hide a recovered node for that long.
 */
export const channelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.keepalive_time_ms': 30_000,
} as const;

/**
 * Concurrent calls one connection may have open: a node's peer link, its Apply calls and a command's stream need a
 * handful; grpc-js' default is unlimited, which lets one client open thousands of streams on one connection.
 */
export const maxConcurrentStreams = 100;
/**
 * TCP connections a node accepts: from one address, and in all. A triad client keeps one connection per node (peers,
 * the CLI, an ingest client), so 64 from one address is generous; beyond it the connection is closed at accept.
 */
export const connectionLimits = { perAddress: 64, total: 512 } as const;

export interface ServerBounds {
  /** The server-wide limit on a decompressed message (grpc-js stops inflating there). */
  maxMessageBytes: number;
  /** Wraps each method's request deserializer (checks on the bytes before decoding). */
  deserializer?: (method: string, deserialize: (bytes: Buffer) => unknown) => (bytes: Buffer) => unknown;
  /** Told when a connection is closed at accept because of connectionLimits. */
  onConnectionRefused?: (reason: 'per_address' | 'total') => void;
}

/**
 * The one owner of gRPC connections in a process (a node, the CLI, a test client): every outgoing channel and every
 * server is made here, from the credentials it was given. One channel per address, shared by every service's client
 * on it, so a node keeps one HTTP/2 connection to each peer however many components talk to it.
 */
export interface Connections {
  /** The client of `service` at `address` (host:port), made once and shared. Never close it: close() does. */
  client<T extends Client = Client>(service: ServiceName, address: string): T;
  /**
   * A server with triad's server options and these triad services added; listen() binds it. `interceptors` run before
   * every handler (the authorisation edge).
   */
  server(
    services?: Partial<Record<ServiceName, UntypedServiceImplementation>>,
    options?: { interceptors?: ServerInterceptor[]; bounds?: ServerBounds },
  ): Server;
  /** Adds triad services to a server made here (before listen()). */
  addServices(server: Server, services: Partial<Record<ServiceName, UntypedServiceImplementation>>): void;
  /** Binds `server` to host:port with the server credentials; resolves with the bound port. */
  listen(server: Server, host: string, port: number, who: string): Promise<number>;
  /**
   * Connects to `address` now and resolves true once it is connected, false as soon as the connection attempt fails
   * (or `deadlineMs` passes). Decides "could not reach it" from the channel's state, never from an error's text: a
   * caller that fails over to another node must know its request was never sent.
   */
  reach(address: string, deadlineMs: number): Promise<boolean>;
  /** Closes every channel made here. */
  close(): void;
}

export function createConnections(credentials: TransportCredentials): Connections {
  const channels = new Map<string, Channel>();
  const clients = new Map<string, Client>();
  const channelFor = (address: string): Channel => {
    let channel = channels.get(address);
    if (!channel) {
      const security = credentials.channel(address);
      channel = new Channel(address, security.credentials, { ...channelOptions, ...security.options });
      channels.set(address, channel);
    }
    return channel;
  };
  return {
    client<T extends Client = Client>(service: ServiceName, address: string): T {
      const key = `${service}@${address}`;
      let client = clients.get(key);
      if (!client) {
        const Ctor: ServiceClientConstructor = serviceConstructor(service);
        client = new Ctor(address, credentials.channel(address).credentials, { channelOverride: channelFor(address) });
        clients.set(key, client);
      }
      return client as T;
    },
    server(services = {}, options = {}) {
      const server = new BoundedServer(
        {
          'grpc.max_receive_message_length': options.bounds?.maxMessageBytes ?? 4 * 1024 * 1024,
          'grpc.max_concurrent_streams': maxConcurrentStreams,
          ...(options.interceptors ? { interceptors: options.interceptors } : {}),
        },
        options.bounds,
      );
      this.addServices(server, services);
      return server;
    },
    addServices(server, services) {
      for (const [name, implementation] of Object.entries(services)) {
        server.addService(serviceConstructor(name as ServiceName).service, implementation);
      }
    },
    listen(server, host, port, who) {
      if (!(server instanceof BoundedServer))
        throw new TriadError('INTERNAL', 'listen() takes a server made by server()');
      return server.listenBounded(credentials.server, host, port, who);
    },
    reach(address, deadlineMs) {
      const channel = channelFor(address);
      const deadline = Date.now() + deadlineMs;
      return new Promise((resolve) => {
        const check = (): void => {
          const state = channel.getConnectivityState(true);
          if (state === connectivityState.READY) return resolve(true);
          if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN)
            return resolve(false);
          channel.watchConnectivityState(state, deadline, (err) => (err ? resolve(false) : check()));
        };
        check();
      });
    },
    close() {
      for (const channel of channels.values()) channel.close();
      channels.clear();
      clients.clear();
    },
  };
}

/**
 * A grpc-js Server that owns its listening socket, so it can count connections before TLS or HTTP/2 spend anything on
 * them (grpc-js has no connection limit), and that wraps every method's deserializer — the health service's too,
 * which adds itself — with the bounds it was given. Accepted sockets are handed to grpc-js through its connection
 * injector; shutting the server down closes the listening socket as well.
 */
class BoundedServer extends Server {
  private readonly listeners: NetServer[] = [];

  constructor(
    options: ServerOptions,
    private readonly bounds: ServerBounds | undefined,
  ) {
    super(options);
  }

  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    const wrap = this.bounds?.deserializer;
    if (!wrap) return super.addService(service, implementation);
    const bounded = Object.fromEntries(
      Object.entries(service).map(([name, method]) => [
        name,
        { ...method, requestDeserialize: wrap(method.path, method.requestDeserialize) },
      ]),
    ) as ServiceDefinition;
    super.addService(bounded, implementation);
  }

  listenBounded(credentials: ServerCredentials, host: string, port: number, who: string): Promise<number> {
    const injector = this.createConnectionInjector(credentials);
    const byAddress = new Map<string, number>();
    let open = 0;
    const listener = createNetServer({ noDelay: true }, (socket) => {
      const address = socket.remoteAddress ?? 'unknown';
      const fromAddress = byAddress.get(address) ?? 0;
      const refused =
        open >= connectionLimits.total ? 'total' : fromAddress >= connectionLimits.perAddress ? 'per_address' : null;
      if (refused) {
        this.bounds?.onConnectionRefused?.(refused);
        socket.destroy();
        return;
      }
      open++;
      byAddress.set(address, fromAddress + 1);
      socket.once('close', () => {
        open--;
        const left = (byAddress.get(address) ?? 1) - 1;
        if (left > 0) byAddress.set(address, left);
        else byAddress.delete(address);
      });
      injector.injectConnection(socket);
    });
    this.listeners.push(listener);
    return new Promise((resolve, reject) => {
      listener.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new TriadError(
            'STARTUP_FAILED',
            `${who}: cannot listen for gRPC on ${host}:${port} (${err.code ?? err.message})${err.code === 'EADDRINUSE' ? ': is another node or program using it?' : ''}`,
            { cause: err },
          ),
        ),
      );
      listener.listen(port, host, () => resolve((listener.address() as AddressInfo).port));
    });
  }

  override tryShutdown(callback: (error?: Error) => void): void {
    this.closeListeners();
    super.tryShutdown(callback);
  }

  override forceShutdown(): void {
    this.closeListeners();
    super.forceShutdown();
  }

  private closeListeners(): void {
    for (const listener of this.listeners.splice(0)) listener.close();
  }
}
