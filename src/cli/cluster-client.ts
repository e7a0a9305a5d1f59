import type { Client } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { certificateLayout } from '../certs/index.js';
import { isLoopbackHost, loadConfig, type TriadConfig } from '../config/index.js';
import {
  createConnections,
  mutualTlsCredentials,
  plaintextCredentials,
  type Connections,
  type TransportCredentials,
} from '../connections/index.js';
import { callUnary, type NodeState } from '../protocol/index.js';
import { TriadError } from '../shared/index.js';
import { optionalString, type CliIO, type ParsedValues } from './command.js';

export interface NodeTarget {
  /** Known from the config or from a peer's view; unknown for a bare --target until it answers. */
  name?: string;
  address: string;
}

export type NodeProbe =
  | { target: NodeTarget; reachable: true; state: NodeState }
  | { target: NodeTarget; reachable: false; error: TriadError };

const stateDeadlineMs = 2_000;
/** How long the CLI waits to connect to one node before it tries the next. */
const connectDeadlineMs = 2_000;

export function loadCliConfig(values: ParsedValues, io: CliIO): TriadConfig {
  const configPath = optionalString(values, 'config');
  return loadConfig({ env: io.env, cwd: io.cwd, ...(configPath ? { configPath } : {}) });
}

export function parseTarget(text: string): string {
  // A DNS name is at most 253 characters; an IPv6 literal at most 39 (plus brackets).
  const match = /^([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]{2,39}\]):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new TriadError('USAGE', `--target expects host:port (e.g. 127.0.0.1:50051), received "${text}"`);
  }
  return text;
}

/**
 * The CLI's credentials: a client certificate from --cert/--key/--ca, else $TRIAD_CERT/$TRIAD_KEY/$TRIAD_CA, else the
 * local operator certificate in the cluster's certs dir (what `triad up` generates, found from the repo root with no
 * flags). Plaintext only with --insecure (or a cluster config with tls.enabled: false), and only to loopback.
 */
export function cliCredentials(values: ParsedValues, io: CliIO): TransportCredentials {
  const target = optionalString(values, 'target');
  // A malformed address is the user's first mistake to hear about, before anything about certificates.
  if (target !== undefined) parseTarget(target);
  const config = loadCliConfig(values, io);
  if (values.insecure === true || !config.cluster.tls.enabled) {
    const hosts = target ? [target.replace(/:\d+$/, '')] : config.cluster.instances.map((i) => i.host);
    const remote = hosts.find((h) => !isLoopbackHost(h));
    if (remote) {
      throw new TriadError(
        'USAGE',
        `plaintext is allowed to loopback addresses only; ${remote} is not one (drop --insecure)`,
      );
    }
    return plaintextCredentials();
  }
  const layout = certificateLayout(config.certsDir);
  const flag = (name: string, variable: string) => optionalString(values, name) ?? (io.env[variable] || undefined);
  const cert = flag('cert', 'TRIAD_CERT') ?? layout.client('operator', 'local').cert;
  const key =
    flag('key', 'TRIAD_KEY') ??
    (flag('cert', 'TRIAD_CERT') ? cert.replace(/\.crt$/, '.key') : layout.client('operator', 'local').key);
  const ca = flag('ca', 'TRIAD_CA') ?? layout.caCert;
  const files = { cert: path.resolve(io.cwd, cert), key: path.resolve(io.cwd, key), ca: path.resolve(io.cwd, ca) };
  const missing = Object.values(files).filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new TriadError(
      'USAGE',
      `no client certificate: ${missing.join(', ')} not found. Pass --cert/--key/--ca (or TRIAD_CERT, TRIAD_KEY, TRIAD_CA); 'triad certs issue --role operator --name you' makes one, and 'triad up' makes a local one in ${config.certsDir}`,
    );
  }
  // The CLI lives for one command: no need to watch the files for rotation.
  return mutualTlsCredentials(files, 24 * 3_600_000);
}

/** The CLI's connections for one command: made from its credentials, closed when `fn` is done. */
export async function withConnections<T>(
  values: ParsedValues,
  io: CliIO,
  fn: (connections: Connections) => Promise<T>,
): Promise<T> {
  const credentials = cliCredentials(values, io);
  const connections = createConnections(credentials);
  try {
    return await fn(connections);
  } finally {
    connections.close();
    credentials.close();
  }
}

export function getState(
  connections: Connections,
  address: string,
  deadlineMs = stateDeadlineMs,
  includeFigures = false,
): Promise<NodeState> {
  return callUnary<{ include_figures: boolean }, NodeState>(
    connections.client('Node', address),
    'GetState',
    { include_figures: includeFigures },
    { deadlineMs },
  );
}

async function probe(connections: Connections, target: NodeTarget): Promise<NodeProbe> {
  try {
    return { target, reachable: true, state: await getState(connections, target.address, stateDeadlineMs, true) };
  } catch (err) {
    const error = err instanceof TriadError ? err : new TriadError('PEER_UNAVAILABLE', String(err));
    return { target, reachable: false, error };
  }
}

/**
 * Every node of the cluster. Without --target the addresses come from the cluster config; with one, that node is
 * asked first and its peers' addresses come from its answer, so a client that knows one node reaches them all.
 */
export async function probeCluster(connections: Connections, values: ParsedValues, io: CliIO): Promise<NodeProbe[]> {
  const target = optionalString(values, 'target');
  if (target === undefined) {
    const config = loadCliConfig(values, io);
    return Promise.all(
      config.cluster.instances.map((i) => probe(connections, { name: i.name, address: `${i.host}:${i.grpcPort}` })),
    );
  }
  const first = await probe(connections, { address: parseTarget(target) });
  if (!first.reachable) {
    throw new TriadError('PEER_UNAVAILABLE', `cannot reach the node at ${target}: ${first.error.detail}`, {
      cause: first.error,
    });
  }
  const self: NodeProbe = { ...first, target: { name: first.state.instance, address: target } };
  const others = await Promise.all(
    first.state.peers.map((p) => probe(connections, { name: p.instance, address: p.address })),
  );
  return [self, ...others].sort((a, b) => (a.target.name ?? '').localeCompare(b.target.name ?? ''));
}

/**
 * Runs `call` against the --target node, or the first node of the cluster config that can be connected to: an operator
 * at 3 a.m. should not have to know which node is up. Only a node the CLI could not connect to is skipped — decided
 * by the connection's state before anything is sent; once a request went out, its answer, error or not, is final (a
 * change must never be sent twice because the first node was slow).
 */
export async function withAdmin<T>(
  values: ParsedValues,
  io: CliIO,
  call: (client: Client, address: string) => Promise<T>,
): Promise<T> {
  const target = optionalString(values, 'target');
  const addresses = target
    ? [parseTarget(target)]
    : loadCliConfig(values, io).cluster.instances.map((i) => `${i.host}:${i.grpcPort}`);
  return withConnections(values, io, async (connections) => {
    const failures: string[] = [];
    for (const address of addresses) {
      if (!(await connections.reach(address, connectDeadlineMs))) {
        failures.push(`${address}: cannot connect`);
        continue;
      }
      return call(connections.client('Admin', address), address);
    }
    throw new TriadError('PEER_UNAVAILABLE', `no node answered: ${failures.join('; ')}`);
  });
}

/** One unary Admin call on whichever node answers (see withAdmin). */
export async function callAdmin<Req, Res>(
  values: ParsedValues,
  io: CliIO,
  method: string,
  request: Req,
  deadlineMs: number,
  context?: { correlation_id?: string },
): Promise<{ response: Res; address: string }> {
  return withAdmin(values, io, async (client, address) => ({
    response: await callUnary<Req, Res>(client, method, request, { deadlineMs, ...(context ? { context } : {}) }),
    address,
  }));
}
