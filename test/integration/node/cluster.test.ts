import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  credentials,
  loadPackageDefinition,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import pg from 'pg';
import { certificateLayout } from '../../../src/certs/index.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { recordOperations } from '../../../src/connections/index.js';
import { createServiceClient } from '../../fixtures/grpc.js';
import { promtoolFindings } from '../../fixtures/promtool.js';
import { readyOf, runTriad, TestCluster, waitFor } from '../../fixtures/cluster.js';

// A stock grpc.health.v1 client, built from the proto that ships with grpc-health-check: nothing of triad's own but
// the certificate it presents (a viewer's, from the cluster's certs dir), over grpc-js' own TLS credentials.
const healthPackage = loadPackageDefinition(
  loadSync(healthProtoPath, { keepCase: true, enums: String }),
) as unknown as {
  grpc: {
    health: { v1: { Health: new (address: string, creds: ChannelCredentials) => Client } };
  };
};

function healthCheck(cluster: TestCluster, address: string, service: string): Promise<string> {
  const layout = certificateLayout(cluster.config.certsDir!);
  const viewer = layout.client('viewer', 'local');
  const creds = credentials.createSsl(readFileSync(layout.caCert), readFileSync(viewer.key), readFileSync(viewer.cert));
  const client = new healthPackage.grpc.health.v1.Health(address, creds);
  return new Promise<string>((resolve, reject) => {
    (
      client as unknown as {
        Check: (req: object, opts: object, cb: (e: ServiceError | null, r?: { status: string }) => void) => void;
      }
    ).Check({ service }, { deadline: Date.now() + 2_000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? 'UNKNOWN');
    });
  });
}

describe('a three-node cluster of real processes', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.waitReady();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a stock grpc.health.v1 client gets SERVING from every ready node', async () => {
    for (const node of cluster.config.instances) {
      expect(await healthCheck(cluster, node.grpc, '')).toBe('SERVING');
      expect(await healthCheck(cluster, node.grpc, 'triad.v1.Node')).toBe('SERVING');
    }
  });

  test('/metrics is valid Prometheus text with the node and peer metrics', async () => {
    const text = await (await fetch(`http://${cluster.instance('alpha').http}/metrics`)).text();
    expect(text).toMatch(/^triad_node_info\{version="[^"]+",cluster="test"\} 1$/m);
    expect(text).toMatch(/^peer_reachable\{peer="beta"\} 1$/m);
    expect(text).toMatch(/^peer_reachable\{peer="gamma"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(promtoolFindings(text)).toEqual([]);
  });

  test('/health is liveness without dependencies; unknown paths are 404 with the list', async () => {
    const beta = cluster.instance('beta').http;
    const health = async () => {
      const res = await fetch(`http://${beta}/health`);
      return { status: res.status, body: await res.json() };
    };
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', instance: 'beta' } });
    const missing = await fetch(`http://${beta}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found', endpoints: ['/metrics', '/health', '/ready'] });

    // A dependency down makes beta not ready, never not alive: restarting it would not bring a peer back.
    await cluster.stopNode('gamma', 'SIGKILL');
    try {
      await waitFor(async () => (await readyOf(beta)).status === 503, 5_000, 'beta to notice gamma is gone');
      expect(await health()).toEqual({ status: 200, body: { status: 'ok', instance: 'beta' } });
    } finally {
      cluster.startNode('gamma');
      await cluster.waitReady();
    }
  });

  test('triad status --json lists all three as ready and seeing each other', async () => {
    const result = await runTriad(['status', '--json', '--config', cluster.config.clusterFile]);
    expect(result.code).toBe(0);
    const { nodes } = JSON.parse(result.stdout) as {
      nodes: { instance: string; ready: boolean; peers: { instance: string; reachable: boolean }[] }[];
    };
    expect(nodes.map((n) => [n.instance, n.ready])).toEqual([
      ['alpha', true],
      ['beta', true],
      ['gamma', true],
    ]);
    expect(nodes[0]?.peers).toEqual([
      expect.objectContaining({ instance: 'beta', reachable: true }),
      expect.objectContaining({ instance: 'gamma', reachable: true }),
    ]);
  });

  test('status through --target discovers the other nodes from the one it asks', async () => {
    const result = await runTriad(['status', '--json', '--target', cluster.instance('beta').grpc]);
    expect(result.code).toBe(0);
    const { nodes } = JSON.parse(result.stdout) as { nodes: { instance: string; address: string }[] };
    expect(nodes.map((n) => n.instance)).toEqual(['alpha', 'beta', 'gamma']);
    expect(nodes.find((n) => n.instance === 'gamma')?.address).toBe(cluster.instance('gamma').grpc);
  });

  test('a killed peer makes the others not ready, naming it; they recover when it returns', async () => {
    await cluster.stopNode('gamma', 'SIGKILL');
    const alpha = cluster.instance('alpha').http;
    await waitFor(async () => (await readyOf(alpha)).status === 503, 5_000, 'alpha to notice gamma is gone');
    const report = await readyOf(alpha);
    expect(report.ready).toBe(false);
    // A consensus epoch that ran meanwhile adds its own reason; the peer's must be there, worded exactly.
    expect(report.reasons).toContainEqual(
      expect.stringMatching(/^peer gamma unreachable at 127\.0\.0\.1:\d+ \(last seen [\d.]+s ago\)$/),
    );
    // The health service is re-published on every heartbeat tick, so it follows /ready within one interval.
    await waitFor(
      async () => (await healthCheck(cluster, cluster.instance('alpha').grpc, '')) === 'NOT_SERVING',
      2_000,
      'NOT_SERVING',
    );

    const down = await runTriad(['status', '--json', '--config', cluster.config.clusterFile]);
    expect(down.code).toBe(0);
    const gamma = (
      JSON.parse(down.stdout) as { nodes: { instance: string; reachable: boolean; code?: string }[] }
    ).nodes.find((n) => n.instance === 'gamma');
    expect(gamma).toMatchObject({ reachable: false, code: 'PEER_UNAVAILABLE' });

    cluster.startNode('gamma');
    await cluster.waitReady(['alpha', 'beta', 'gamma']);
    expect((await readyOf(alpha)).reasons).toEqual([]);
  });

  test('SIGTERM drains a node and it exits 0', async () => {
    const beta = cluster.instance('beta');
    const ops = Array.from({ length: 20 }, (_, i) => ({
      operation_id: randomUUID(),
      framework_id: 'R1_SOVEREIGNTY_MEASUREMENT',
      instance: 'beta',
      started_at_ms: Date.now() - 1_000,
      duration_ms: 10 + i,
      burden_saved_hours: 0.25,
      success: true,
    }));
    // Holding back every insert into operation_history keeps an ingest call in flight (it is acknowledged only once
    // committed) for as long as this test needs to look at the draining node.
    const blocker = new pg.Client({ connectionString: cluster.databaseUrl });
    await blocker.connect();
    let released = false;
    const release = async () => {
      if (!released) await blocker.query('COMMIT');
      released = true;
    };
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE operation_history IN SHARE MODE');
      const call = recordOperations(createServiceClient('Ingest', beta.grpc, 'ingest'), ops, { deadlineMs: 20_000 });
      call.catch(() => undefined); // awaited below; a failure before that must not surface as an unhandled rejection
      await waitFor(
        async () =>
          (
            await cluster.db!.pool.query(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%operation_history%'`,
            )
          ).rowCount! > 0,
        5_000,
        "beta's insert to wait for the lock",
      );

      const exited = cluster.stopNode('beta', 'SIGTERM');
      // Not ready from the moment it stops (load balancers and probes move away), while still alive and draining.
      await waitFor(async () => (await readyOf(beta.http)).status === 503, 2_000, 'beta /ready to turn 503');
      const draining = await readyOf(beta.http);
      expect(draining.reasons).toContain('stopping');
      expect(cluster.processes.get('beta')!.exitCode).toBeNull();

      await release();
      await expect(call).resolves.toMatchObject({ accepted: ops.length, invalid: 0 });
      // Drained, not forced: the drain ends when the last call does, not at the 8 s after which it would be cut off.
      const drainedAt = Date.now();
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - drainedAt).toBeLessThan(4_000);
      const { rows } = await cluster.db!.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM operation_history WHERE operation_id = ANY($1::uuid[])',
        [ops.map((o) => o.operation_id)],
      );
      expect(rows[0]!.n).toBe(ops.length);
    } finally {
      await release();
      await blocker.end();
      await cluster.stopNode('beta', 'SIGKILL'); // a no-op once it exited, as it should have
      cluster.startNode('beta');
      await cluster.waitReady();
    }
  });
});

describe('bad input at the command line', () => {
  test('an unknown instance is a usage error listing the known ones', async () => {
    const result = await runTriad(['node', '--instance', 'zeta']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('[USAGE] unknown instance "zeta" (the cluster config has: alpha, beta, gamma)');
  });

  test('a malformed cluster file fails with file:line:col and exit 2', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/triad-bad-`);
    writeFileSync(`${dir}/cluster.yaml`, 'instances:\n  - name: alpha\n    grpc_port: 99999\n    http_port: 1\n');
    const result = await runTriad(['node', '--instance', 'alpha', '--config', `${dir}/cluster.yaml`], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'cluster.yaml:3:16: instances.0.grpc_port: expected a port between 1 and 65535, received 99999',
    );
  });

  test('a malformed --target and an unknown command are usage errors', async () => {
    const target = await runTriad(['status', '--target', 'localhost']);
    expect(target.code).toBe(2);
    expect(target.stderr).toContain('--target expects host:port');
    const unknown = await runTriad(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  test('every command answers --help with exit 0', async () => {
    const overview = await runTriad(['--help']);
    const names = [...overview.stdout.matchAll(/^ {2}([a-z-]+) {2}/gm)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(['up', 'node', 'status']));
    for (const name of names) {
      const help = await runTriad([name, '--help']);
      expect(help.code, name).toBe(0);
      expect(help.stdout, name).toContain('usage: triad');
    }
  });
});
