import type { Client } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { measurementKeys, measurementVector } from '../../../src/consensus/index.js';
import { callUnary } from '../../../src/protocol/index.js';
import { createServiceClient } from '../../fixtures/grpc.js';
import { readyOf, runTriad, scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';

/** A realistic, distinct measurement per node: node i reports R1 and R2 with its own ratio, rate and counts. */
const measurementOf = (i: number) =>
  measurementVector({
    R1: {
      amplification: 1,
      error_rate: 0.001 * i,
      burden_rate: 0.01 * (i + 1),
      reporting: 1,
      samples: 100 + i,
      settled: 1,
    },
    R2: {
      amplification: 2 + 0.05 * i,
      error_rate: 0,
      burden_rate: 0.02 * (i + 1),
      reporting: 1,
      samples: 100 + i,
      settled: 1,
    },
  });

async function setMeasurement(grpc: string, value: number[]): Promise<void> {
  const client = createServiceClient<Client>('Admin', grpc);
  try {
    await callUnary(client, 'SetTestMeasurement', { value }, { deadlineMs: 2_000 });
  } finally {
    client.close();
  }
}

interface SyncJson {
  epoch_id: string;
  converged: boolean;
  error: number;
  failed: string[];
  rounds: number;
  instances: { instance: string; reachable: boolean; error: number; value: Record<string, number> }[];
}

const consensusYaml = 'consensus:\n  interval: 300ms\n  round_timeout: 200ms\n  epsilon: 1.0e-9\n';

describe.each([
  ['K3', ['alpha', 'beta', 'gamma']],
  ['K5', ['alpha', 'beta', 'gamma', 'delta', 'epsilon']],
])('live consensus on %s', (topology, names) => {
  let cluster: TestCluster;
  const last = names.at(-1)!;

  beforeAll(async () => {
    cluster = await TestCluster.start({ names, extraYaml: consensusYaml, env: { TRIAD_TEST_HOOKS: '1' } });
    await cluster.waitReady();
    await Promise.all(names.map((n, i) => setMeasurement(cluster.instance(n).grpc, measurementOf(i))));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('one epoch brings every node to the mean: consensus_error below 1e-9', async () => {
    const result = await runTriad(['force-consensus-sync', '--json', '--config', cluster.config.clusterFile]);
    expect(result.code).toBe(0);
    const sync = JSON.parse(result.stdout) as SyncJson;
    expect(sync).toMatchObject({ converged: true, failed: [], rounds: 1 });
    expect(sync.error).toBeLessThan(1e-9);
    const vectors = names.map((_, i) => measurementOf(i));
    const mean = (k: number) => vectors.reduce((sum, v) => sum + v[k]!, 0) / vectors.length;
    expect(sync.instances.map((i) => i.instance)).toEqual(names);
    for (const instance of sync.instances) {
      expect(Object.keys(instance.value), instance.instance).toEqual([...measurementKeys]);
      measurementKeys.forEach((key, k) => expect(instance.value[key]).toBeCloseTo(mean(k), 9));
    }
    // The initiator records the epoch in consensus_measurements (a lone epoch is written at once).
    const db = new pg.Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    try {
      const recorded = async () =>
        (
          await db.query<{ converged: boolean; error: number; members: string[] }>(
            'SELECT converged, error, members FROM consensus_measurements WHERE epoch_id = $1',
            [sync.epoch_id],
          )
        ).rows;
      await waitFor(async () => (await recorded()).length === 1, 5_000, `epoch ${sync.epoch_id} recorded`);
      expect((await recorded())[0]).toMatchObject({ converged: true, members: names });
      expect((await recorded())[0]!.error).toBeLessThan(1e-9);
    } finally {
      await db.end();
    }
    // Every node exports the outcome it took part in, not only the initiator.
    for (const name of names) {
      const http = cluster.instance(name).http;
      await waitFor(
        async () => (await scrapeValue(http, `consensus_converged{topology="${topology}"}`)) === 1,
        5_000,
        `${name} converged`,
      );
      expect(await scrapeValue(http, `consensus_error{topology="${topology}"}`)).toBeLessThan(1e-9);
      expect(await scrapeValue(http, `consensus_lambda2{topology="${topology}"}`)).toBe(names.length);
      expect(await scrapeValue(http, `instance_divergence{member="${last}"}`)).toBeGreaterThan(0);
    }
  });

  test(`killing ${last} shows as divergence on the others and in /ready; restarting it converges again`, async () => {
    await cluster.stopNode(last, 'SIGKILL');
    const alpha = cluster.instance('alpha').http;
    await waitFor(
      async () => (await scrapeValue(alpha, `consensus_converged{topology="${topology}"}`)) === 0,
      10_000,
      'divergence',
    );
    expect(await scrapeValue(alpha, `consensus_error{topology="${topology}"}`)).toBeGreaterThan(0.05);
    expect(await scrapeValue(alpha, `instance_divergence{member="${last}"}`)).toBe(1);
    const ready = await readyOf(alpha);
    expect(ready.status).toBe(503);
    expect(
      ready.reasons.some((r) => r.startsWith('consensus not converged') && r.includes(`unreachable: ${last}`)),
    ).toBe(true);

    const sync = await runTriad(['force-consensus-sync', '--json', '--config', cluster.config.clusterFile]);
    expect(sync.code).toBe(1);
    expect((JSON.parse(sync.stdout) as SyncJson).failed).toEqual([last]);
    expect(sync.stderr).toContain(`[NOT_CONVERGED]`);
    expect(sync.stderr).toContain(`${last} is not within ε`);

    cluster.startNode(last);
    await waitFor(
      async () => {
        const r = await readyOf(cluster.instance(last).http);
        return r.status !== 0 && r.reasons.every((reason) => !reason.startsWith('peer'));
      },
      15_000,
      `${last} back and seeing its peers`,
    );
    await setMeasurement(cluster.instance(last).grpc, measurementOf(names.length - 1));
    await waitFor(
      async () => (await scrapeValue(alpha, `consensus_converged{topology="${topology}"}`)) === 1,
      10_000,
      'convergence again',
    );
    await cluster.waitReady();
    const again = await runTriad(['force-consensus-sync', '--config', cluster.config.clusterFile]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`on ${topology}: converged`);
  });

  test('force-consensus-sync restricted to some instances, and triad status shows the consensus line', async () => {
    const some = await runTriad([
      'force-consensus-sync',
      '--json',
      '--instances',
      'alpha,beta',
      '--config',
      cluster.config.clusterFile,
    ]);
    expect(some.code).toBe(0);
    expect((JSON.parse(some.stdout) as SyncJson).instances.map((i) => i.instance)).toEqual(['alpha', 'beta']);
    const status = await runTriad(['status', '--config', cluster.config.clusterFile]);
    expect(status.stdout).toMatch(new RegExp(`^consensus: ${topology} {2}λ₂ \\S+ {2}error \\S+ {2}converged`, 'm'));
  });
});

describe('force-consensus-sync input', () => {
  test('an unknown instance is exit 2 naming it; no node reachable is exit 1', async () => {
    const cluster = await TestCluster.start({ names: ['alpha', 'beta'], extraYaml: consensusYaml });
    try {
      await cluster.waitReady();
      const unknown = await runTriad([
        'force-consensus-sync',
        '--instances',
        'alpha,zeta',
        '--config',
        cluster.config.clusterFile,
      ]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('[INPUT_INVALID] unknown instance "zeta" (cluster: alpha, beta)');
      const hooks = await setMeasurement(cluster.instance('alpha').grpc, measurementOf(0)).catch((e: Error) => e);
      expect(String(hooks)).toContain('[PERMISSION_DENIED] test hooks are disabled');
      await Promise.all(['alpha', 'beta'].map((n) => cluster.stopNode(n)));
      const gone = await runTriad(['force-consensus-sync', '--config', cluster.config.clusterFile]);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain('[PEER_UNAVAILABLE] no node answered');
    } finally {
      await cluster.stop();
    }
  });
});
