import type { Client } from '@grpc/grpc-js';
import { loadConfig, type TriadConfig } from '../config/index.js';
import { callUnary, createServiceClient, type NodeState } from '../protocol/index.js';
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

export function loadCliConfig(values: ParsedValues, io: CliIO): TriadConfig {
  const configPath = optionalString(values, 'config');
  return loadConfig({ env: io.env, cwd: io.cwd, ...(configPath ? { configPath } : {}) });
}

export function parseTarget(text: string): string {
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new TriadError('USAGE', `--target expects host:port (e.g. 127.0.0.1:50051), received "${text}"`);
  }
  return text;
}

export async function getState(
  address: string,
  deadlineMs = stateDeadlineMs,
  includeFigures = false,
): Promise<NodeState> {
  const client = createServiceClient<Client>('Node', address);
  try {
    return await callUnary<{ include_figures: boolean }, NodeState>(
      client,
      'GetState',
      { include_figures: includeFigures },
      { deadlineMs },
    );
  } finally {
    client.close();
  }
}

async function probe(target: NodeTarget): Promise<NodeProbe> {
  try {
    return { target, reachable: true, state: await getState(target.address, stateDeadlineMs, true) };
  } catch (err) {
    const error = err instanceof TriadError ? err : new TriadError('PEER_UNAVAILABLE', String(err));
    return { target, reachable: false, error };
  }
}

/**
 * Every node of the cluster. Without --target the addresses come from the cluster config; with one, that node is
 * asked first and its peers' addresses come from its answer, so a client that knows one node reaches them all.
 */
export async function probeCluster(values: ParsedValues, io: CliIO): Promise<NodeProbe[]> {
  const target = optionalString(values, 'target');
  if (target === undefined) {
    const config = loadCliConfig(values, io);
    return Promise.all(
      config.cluster.instances.map((i) => probe({ name: i.name, address: `${i.host}:${i.grpcPort}` })),
    );
  }
  const first = await probe({ address: parseTarget(target) });
  if (!first.reachable) {
    throw new TriadError('PEER_UNAVAILABLE', `cannot reach the node at ${target}: ${first.error.detail}`, {
      cause: first.error,
    });
  }
  const self: NodeProbe = { ...first, target: { name: first.state.instance, address: target } };
  const others = await Promise.all(first.state.peers.map((p) => probe({ name: p.instance, address: p.address })));
  return [self, ...others].sort((a, b) => (a.target.name ?? '').localeCompare(b.target.name ?? ''));
}

/**
 * Runs `call` against the --target node, or the first node of the cluster config that answers: an operator at 3 a.m.
 * should not have to know which node is up. Only "could not connect" moves on to the next node; any answer, error
 * or not, is final (a change must never be sent twice because the first node was slow).
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
  const failures: string[] = [];
  for (const address of addresses) {
    const client = createServiceClient<Client>('Admin', address);
    try {
      return await call(client, address);
    } catch (err) {
      if (!(err instanceof TriadError) || err.code !== 'PEER_UNAVAILABLE' || !isConnectFailure(err)) throw err;
      failures.push(`${address}: ${err.detail}`);
    } finally {
      client.close();
    }
  }
  throw new TriadError('PEER_UNAVAILABLE', `no node answered: ${failures.join('; ')}`);
}

/** grpc-js says "No connection established" when the call never reached the server. */
function isConnectFailure(err: TriadError): boolean {
  return /No connection established|ECONNREFUSED|connect/i.test(err.detail);
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
