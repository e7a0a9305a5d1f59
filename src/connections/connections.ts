import {
  Channel,
  connectivityState,
  Server,
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

const serverOptions: ServerOptions = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };

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
    options?: { interceptors?: ServerInterceptor[] },
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
      const server = new Server({
        ...serverOptions,
        ...(options.interceptors ? { interceptors: options.interceptors } : {}),
      });
      this.addServices(server, services);
      return server;
    },
    addServices(server, services) {
      for (const [name, implementation] of Object.entries(services)) {
        server.addService(serviceConstructor(name as ServiceName).service, implementation);
      }
    },
    listen(server, host, port, who) {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, credentials.server, (err, boundPort) => {
          if (err) {
            reject(
              new TriadError('STARTUP_FAILED', `${who}: cannot listen for gRPC on ${host}:${port} (${err.message})`, {
                cause: err,
              }),
            );
          } else resolve(boundPort);
        });
      });
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
