import { describe, expect, test } from 'vitest';
import { parseClusterConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/shared/index.js';

const file = 'config/cluster.yaml';
const valid = `cluster:
  name: t
instances:
  - name: alpha
    grpc_port: 50051
    http_port: 9464
  - name: beta
    grpc_port: 50052
    http_port: 9465
`;

function errorOf(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseClusterConfig(text, { displayPath: file, env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('cluster.yaml', () => {
  test('a valid file gets defaults: loopback host, complete topology, 1s/3s heartbeat', () => {
    const config = parseClusterConfig(valid, { displayPath: file });
    expect(config.topology).toBe('complete');
    expect(config.instances).toEqual([
      { name: 'alpha', host: '127.0.0.1', grpcPort: 50051, httpPort: 9464 },
      { name: 'beta', host: '127.0.0.1', grpcPort: 50052, httpPort: 9465 },
    ]);
    expect(config.heartbeat).toEqual({ intervalMs: 1000, timeoutMs: 3000 });
    expect(config.consensus.epsilon).toBe(1e-6);
  });

  test('an unknown key is pointed at by its own line and column', () => {
    const error = errorOf(valid.replace('    http_port: 9465\n', '    http_port: 9465\n    grcp_port: 1\n'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] config/cluster.yaml:10:5: instances.1: Unrecognized key: "grcp_port""`,
    );
  });

  test('a duplicate instance name names both places', () => {
    const error = errorOf(valid.replace('name: beta', 'name: alpha'));
    expect(error.message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] config/cluster.yaml:7:11: instances.1.name: duplicate instance name "alpha" (first defined at instances.0)"`,
    );
  });

  test('a port used twice is a collision, reported at the second use', () => {
    const error = errorOf(valid.replace('grpc_port: 50052', 'grpc_port: 9464'));
    expect(error.issues).toEqual([
      {
        where: 'config/cluster.yaml:8:16',
        field: 'instances.1.grpc_port',
        message: 'port 127.0.0.1:9464 is already used by instances.0.http_port',
      },
    ]);
  });

  test('a port out of range echoes the value and the allowed range', () => {
    const error = errorOf(valid.replace('grpc_port: 50051', 'grpc_port: 70000'));
    expect(error.message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] config/cluster.yaml:5:16: instances.0.grpc_port: expected a port between 1 and 65535, received 70000"`,
    );
  });

  test('a port of the wrong type says what was received', () => {
    const error = errorOf(valid.replace('http_port: 9464', 'http_port: "web"'));
    expect(error.issues[0]).toMatchObject({ where: 'config/cluster.yaml:6:16', field: 'instances.0.http_port' });
    expect(error.issues[0]?.message).toContain('received web');
  });

  test('malformed YAML reports the parser position', () => {
    const error = errorOf('instances: [\n  { name: alpha\n');
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues[0]?.where).toMatch(/^config\/cluster\.yaml:\d+:\d+$/);
  });

  test('a key repeated in one mapping is a YAML error, not a silent overwrite', () => {
    const error = errorOf(valid.replace('    http_port: 9464\n', '    http_port: 9464\n    http_port: 9470\n'));
    expect(error.issues[0]?.where).toBe('config/cluster.yaml:7:5');
    expect(error.issues[0]?.message).toContain('unique');
  });

  test('all problems are reported at once', () => {
    const error = errorOf(valid.replace('name: beta', 'name: Beta!').replace('grpc_port: 50051', 'grpc_port: 0'));
    expect(error.issues.map((i) => i.field)).toEqual(['instances.0.grpc_port', 'instances.1.name']);
    expect(error.message).toContain('2 problems:');
  });

  test('custom topology needs edges between known instances, without self-loops or duplicates', () => {
    const custom = valid.replace(
      '  name: t\n',
      '  name: t\n  topology: custom\n  edges: [[alpha, beta], [beta, alpha, 2], [alpha, delta], [beta, beta]]\n',
    );
    const error = errorOf(custom);
    expect(error.issues.map((i) => `${i.field}: ${i.message}`)).toEqual([
      'cluster.edges.1: duplicate edge beta–alpha',
      'cluster.edges.2.1: unknown instance "delta" (instances: alpha, beta)',
      'cluster.edges.3: self-loop on "beta"',
    ]);
    expect(errorOf(valid.replace('  name: t\n', '  name: t\n  topology: custom\n')).issues[0]?.message).toContain(
      'needs cluster.edges',
    );
  });

  test('a heartbeat timeout not longer than the interval is rejected; durations must parse', () => {
    expect(errorOf(`${valid}heartbeat:\n  interval: 2s\n  timeout: 1s\n`).issues[0]).toMatchObject({
      where: 'config/cluster.yaml:12:12',
      field: 'heartbeat.timeout',
    });
    expect(errorOf(`${valid}heartbeat:\n  interval: soon\n`).issues[0]?.message).toBe(
      'expected a duration like "500ms", "15m" or "7d", received "soon"',
    );
  });

  test('environment variables override addresses and are validated by name', () => {
    const config = parseClusterConfig(valid, {
      displayPath: file,
      env: { TRIAD_ALPHA_GRPC_PORT: '6000', TRIAD_BETA_HOST: '127.0.0.2' },
    });
    expect(config.instances[0]?.grpcPort).toBe(6000);
    expect(config.instances[1]?.host).toBe('127.0.0.2');
    expect(errorOf(valid, { TRIAD_BETA_HTTP_PORT: 'eighty' }).message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] env TRIAD_BETA_HTTP_PORT: instances.1.http_port: expected a port between 1 and 65535, received "eighty""`,
    );
    expect(errorOf(valid, { TRIAD_BETA_GRPC_PORT: '50051' }).issues[0]).toEqual({
      where: 'env TRIAD_BETA_GRPC_PORT',
      field: 'instances.1.grpc_port',
      message: 'port 127.0.0.1:50051 is already used by instances.0.grpc_port',
    });
  });
});

describe('transport security rules (DESIGN §8: nothing listens beyond loopback without TLS)', () => {
  const routable = valid.replace('  - name: beta\n', '  - name: beta\n    host: 10.0.0.2\n');

  test('TLS is on by default; a routable host with TLS is fine, and its /metrics defaults to HTTPS (auto)', () => {
    const config = parseClusterConfig(routable, { displayPath: file });
    expect(config.tls).toEqual({ enabled: true, reloadIntervalMs: 5_000 });
    expect(config.http).toEqual({ tls: 'auto', clientCertificates: false });
  });

  test('plaintext on a routable host is refused at the host line, in the file or by --insecure', () => {
    const fileError = errorOf(`${routable}tls:\n  enabled: false\n`);
    expect(fileError.message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] config/cluster.yaml:8:11: instances.1.host: 10.0.0.2 is not loopback: tls.enabled: false (plaintext gRPC) is allowed only when every instance is on loopback"`,
    );
    let insecure: unknown;
    try {
      parseClusterConfig(routable, { displayPath: file, insecure: true });
    } catch (err) {
      insecure = err;
    }
    expect((insecure as ConfigError).message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] config/cluster.yaml:8:11: instances.1.host: 10.0.0.2 is not loopback: --insecure (plaintext gRPC) is allowed only when every instance is on loopback"`,
    );
    expect(parseClusterConfig(valid, { displayPath: file, insecure: true }).tls.enabled).toBe(false);
  });

  test('a host moved off loopback from the environment is refused too, naming the variable', () => {
    const error = errorOf(`${valid}tls:\n  enabled: false\n`, { TRIAD_ALPHA_HOST: '192.168.1.5' });
    expect(error.message).toMatchInlineSnapshot(
      `"[CONFIG_INVALID] env TRIAD_ALPHA_HOST: instances.0.host: 192.168.1.5 is not loopback: tls.enabled: false (plaintext gRPC) is allowed only when every instance is on loopback"`,
    );
  });

  test('a wildcard host, plaintext HTTP off loopback, and HTTPS without certificates are each refused', () => {
    expect(errorOf(valid.replace('  - name: beta\n', '  - name: beta\n    host: 0.0.0.0\n')).message).toContain(
      'instances.1.host: "0.0.0.0" is a wildcard, but host is also the address the other nodes dial',
    );
    expect(errorOf(`${routable}http:\n  tls: 'off'\n`).message).toContain(
      'instances.1.host: 10.0.0.2 is not loopback: http.tls: off (plaintext /metrics, /ready) is allowed only on loopback',
    );
    expect(errorOf(`${valid}tls:\n  enabled: false\nhttp:\n  tls: 'on'\n`).message).toContain(
      'http.tls: HTTPS serves the node certificate, which plaintext gRPC (tls.enabled: false or --insecure) has none of',
    );
  });
});

describe('cluster.yaml bounds', () => {
  test('a duration of 0 or past 24 days (what setTimeout can hold) is refused, naming the field and the range', () => {
    expect(errorOf(`${valid}heartbeat:\n  interval: 0ms\n`).message).toBe(
      '[CONFIG_INVALID] config/cluster.yaml:11:13: heartbeat.interval: expected a duration within (0, 24d], received "0ms"',
    );
    expect(errorOf(`${valid}consensus:\n  interval: 25d\n`).message).toBe(
      '[CONFIG_INVALID] config/cluster.yaml:11:13: consensus.interval: expected a duration within (0, 24d], received "25d"',
    );
    expect(
      parseClusterConfig(`${valid}consensus:\n  interval: 24d\n`, { displayPath: file }).consensus.intervalMs,
    ).toBe(24 * 86_400_000);
  });

  test('counts have upper bounds', () => {
    expect(errorOf(`${valid}ingest:\n  queue_capacity: 1000000000\n`).message).toMatch(
      /^\[CONFIG_INVALID\] config\/cluster\.yaml:11:19: ingest\.queue_capacity: .*1000000/,
    );
    const many = Array.from(
      { length: 65 },
      (_, i) => `  - { name: n${i}, grpc_port: ${20000 + i}, http_port: ${30000 + i} }`,
    );
    expect(errorOf(`instances:\n${many.join('\n')}\n`).message).toMatch(/instances: expected at most 64 instances$/);
  });

  test('a file that expands aliases past the limit is refused, not expanded', () => {
    // Each level doubles the one before: 2^40 strings if expanded.
    const levels = Array.from({ length: 40 }, (_, i) => `l${i + 1}: &l${i + 1} [*l${i}, *l${i}]`);
    const bomb = `${valid}x:\n  l0: &l0 "lol"\n${levels.map((l) => `  ${l}`).join('\n')}\n`;
    expect(errorOf(bomb).message).toMatch(/^\[CONFIG_INVALID\] config\/cluster\.yaml: .*\(at most 50 alias uses\)$/);
  });
});
