import type { InstanceAddress, TopologyKind } from './cluster.js';

interface PathIssue {
  path: (string | number)[];
  message: string;
}

type RawFile = {
  cluster: { topology: TopologyKind; edges: [string, string, number?][] };
  synthetic: { faults: { instance: string }[] };
  instances: { name: string; host: string; grpc_port: number; http_port: number }[];
  heartbeat: { interval: number; timeout: number };
  tls: { enabled: boolean };
  http: { tls: 'auto' | 'on' | 'off' };
};

/** 127.0.0.0/8, ::1 and "localhost": addresses nothing outside this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * What is wrong with an instance's host: a wildcard (it is also the address peers dial, and nobody can dial 0.0.0.0),
 * or a routable address with plaintext gRPC or HTTP (DESIGN §8: nothing listens beyond loopback without TLS).
 */
export function hostProblems(
  host: string,
  security: { tls: boolean; http: 'auto' | 'on' | 'off'; insecure?: boolean },
): string[] {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === '0.0.0.0' || bare === '::' || bare === '*') {
    return [
      `"${host}" is a wildcard, but host is also the address the other nodes dial: give this instance's own address`,
    ];
  }
  if (isLoopbackHost(host)) return [];
  const problems: string[] = [];
  if (!security.tls) {
    problems.push(
      security.insecure
        ? `${host} is not loopback: --insecure (plaintext gRPC) is allowed only when every instance is on loopback`
        : `${host} is not loopback: tls.enabled: false (plaintext gRPC) is allowed only when every instance is on loopback`,
    );
  }
  if (security.http === 'off')
    problems.push(`${host} is not loopback: http.tls: off (plaintext /metrics, /ready) is allowed only on loopback`);
  return problems;
}

/** Rules across fields of cluster.yaml (unique names and ports, edges of a custom topology, timeouts, TLS). */
export function fileIssues(file: RawFile, options: { insecure: boolean } = { insecure: false }): PathIssue[] {
  const issues: PathIssue[] = [];
  if (file.http.tls === 'on' && !file.tls.enabled) {
    issues.push({
      path: ['http', 'tls'],
      message: 'HTTPS serves the node certificate, which plaintext gRPC (tls.enabled: false or --insecure) has none of',
    });
  }
  file.instances.forEach((instance, index) => {
    for (const message of hostProblems(instance.host, {
      tls: file.tls.enabled,
      http: file.http.tls,
      insecure: options.insecure,
    }))
      issues.push({ path: ['instances', index, 'host'], message });
  });
  const seenNames = new Map<string, number>();
  file.instances.forEach((instance, index) => {
    const first = seenNames.get(instance.name);
    if (first === undefined) seenNames.set(instance.name, index);
    else {
      issues.push({
        path: ['instances', index, 'name'],
        message: `duplicate instance name "${instance.name}" (first defined at instances.${first})`,
      });
    }
  });
  const addresses = file.instances.map((i) => ({
    name: i.name,
    host: i.host,
    grpcPort: i.grpc_port,
    httpPort: i.http_port,
  }));
  for (const clash of portClashes(addresses))
    issues.push({ path: clash.field.split('.').map(segment), message: clash.message });

  const names = new Set(file.instances.map((i) => i.name));
  const { topology, edges } = file.cluster;
  if (topology === 'custom' && edges.length === 0) {
    issues.push({
      path: ['cluster', 'topology'],
      message: 'topology "custom" needs cluster.edges, e.g. [[alpha, beta, 1.0]]',
    });
  }
  if (topology !== 'custom' && edges.length > 0) {
    issues.push({
      path: ['cluster', 'edges'],
      message: `edges are only read with topology "custom" (topology is "${topology}")`,
    });
  }
  const seenEdges = new Set<string>();
  edges.forEach(([a, b], index) => {
    [a, b].forEach((end, side) => {
      if (!names.has(end)) {
        issues.push({
          path: ['cluster', 'edges', index, side],
          message: `unknown instance "${end}" (instances: ${[...names].join(', ')})`,
        });
      }
    });
    if (a === b) issues.push({ path: ['cluster', 'edges', index], message: `self-loop on "${a}"` });
    const key = [a, b].sort().join('|');
    if (seenEdges.has(key)) issues.push({ path: ['cluster', 'edges', index], message: `duplicate edge ${a}–${b}` });
    seenEdges.add(key);
  });
  file.synthetic.faults.forEach((f, index) => {
    if (!names.has(f.instance)) {
      issues.push({
        path: ['synthetic', 'faults', index, 'instance'],
        message: `unknown instance "${f.instance}" (instances: ${[...names].join(', ')})`,
      });
    }
  });
  if (file.heartbeat.timeout <= file.heartbeat.interval) {
    issues.push({ path: ['heartbeat', 'timeout'], message: 'expected a timeout longer than the heartbeat interval' });
  }
  return issues;
}

function segment(text: string): string | number {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** Every host:port used twice, naming the later field and the one that had it first. */
export function portClashes(
  instances: readonly InstanceAddress[],
): { field: string; firstField: string; message: string }[] {
  const clashes: { field: string; firstField: string; message: string }[] = [];
  const owners = new Map<string, string>();
  instances.forEach((instance, index) => {
    for (const [key, value] of [
      ['grpc_port', instance.grpcPort],
      ['http_port', instance.httpPort],
    ] as const) {
      const endpoint = `${instance.host}:${value}`;
      const field = `instances.${index}.${key}`;
      const owner = owners.get(endpoint);
      if (owner === undefined) owners.set(endpoint, field);
      else clashes.push({ field, firstField: owner, message: `port ${endpoint} is already used by ${owner}` });
    }
  });
  return clashes;
}

/** HTTPS on /metrics, /health, /ready: when asked for (`on`), or by default (`auto`) whenever the host is not loopback. */
export function servesHttps(
  security: { tls: { enabled: boolean }; http: { tls: 'auto' | 'on' | 'off' } },
  host: string,
): boolean {
  return (
    security.tls.enabled && (security.http.tls === 'on' || (security.http.tls === 'auto' && !isLoopbackHost(host)))
  );
}
