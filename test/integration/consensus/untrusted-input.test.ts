import type { Client } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { measurementKeys } from '../../../src/consensus/index.js';
import { callUnary } from '../../../src/protocol/index.js';
import { createServiceClient } from '../../fixtures/grpc.js';
import { callRaw, encode, hostileClient, unharmed } from '../../fixtures/hostile.js';
import { runTriad, scrapeValue, TestCluster, waitFor, writeClusterConfig } from '../../fixtures/cluster.js';
import { createTestDatabase } from '../../fixtures/postgres.js';
import { startLiar } from './liar-node.js';

const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const correct = names.slice(0, 4);
const width = measurementKeys.length;
/** Correct node i holds 10·(i+1) + k in component k: the correct range of component k is [10 + k, 40 + k]. */
const measurementOf = (i: number) => Array.from({ length: width }, (_, k) => 10 * (i + 1) + k);
/** The liar tells alternate neighbours ±10⁹, every round, in every component. */
const lie = (peer: string) => Array.from({ length: width }, () => (names.indexOf(peer) % 2 === 0 ? 1e9 : -1e9));

const consensusYaml = [
  'consensus:',
  '  interval: 1s',
  '  round_timeout: 500ms',
  '  epsilon: 1.0e-6',
  '  resilience:',
  '    f: 1',
  '    rounds: 60',
].join('\n');

async function setMeasurement(grpc: string, value: number[]): Promise<void> {
  const client = createServiceClient<Client>('Admin', grpc);
  try {
    await callUnary(client, 'SetTestMeasurement', { value }, { deadlineMs: 2_000 });
  } finally {
    client.close();
  }
}

const rejected = (http: string, reason: string) =>
  scrapeValue(http, `triad_peer_messages_rejected_total{reason="${reason}"}`);

describe('K5 with W-MSR (f = 1): four real nodes and a lying fifth over the real protocol', () => {
  let cluster: TestCluster;
  let liar: Awaited<ReturnType<typeof startLiar>>;

  beforeAll(async () => {
    const config = await writeClusterConfig({
      names,
      extraYaml: consensusYaml,
      heartbeat: { interval: '500ms', timeout: '3s' },
    });
    const database = await createTestDatabase();
    cluster = new TestCluster(config, database.url, { TRIAD_TEST_HOOKS: '1' }, database);
    liar = await startLiar(config, 'epsilon', lie);
    for (const name of correct) cluster.startNode(name);
    await cluster.waitReady(correct, 40_000);
    await Promise.all(correct.map((n, i) => setMeasurement(cluster.instance(n).grpc, measurementOf(i))));
  }, 60_000);

  afterAll(async () => {
    liar?.stop();
    await cluster?.stop();
  });

  test('the correct nodes stay within their own range, agree, and flag the liar', async () => {
    const sync = await runTriad(['force-consensus-sync', '--json', '--config', cluster.config.clusterFile]);
    const outcome = JSON.parse(sync.stdout) as {
      converged: boolean;
      error: number;
      failed: string[];
      instances: { instance: string; value: Record<string, number> }[];
    };
    expect(liar.plans.length).toBeGreaterThan(0);
    expect(outcome.converged).toBe(true);
    expect(outcome.error).toBeLessThan(1e-6);
    // The CLI names the one member not within ε of the agreement: the liar.
    expect(outcome.failed).toEqual(['epsilon']);
    const finals = outcome.instances.filter((i) => correct.includes(i.instance));
    expect(finals).toHaveLength(4);
    measurementKeys.forEach((key, k) => {
      const values = finals.map((f) => f.value[key]!);
      expect(Math.min(...values), key).toBeGreaterThanOrEqual(10 + k - 1e-9);
      expect(Math.max(...values), key).toBeLessThanOrEqual(40 + k + 1e-9);
      expect(Math.max(...values) - Math.min(...values), key).toBeLessThan(1e-4);
    });
    for (const name of correct) {
      const http = cluster.instance(name).http;
      await waitFor(
        async () => (await scrapeValue(http, 'consensus_suspect{member="epsilon"}')) === 1,
        10_000,
        `${name} flags epsilon`,
      );
      expect(await scrapeValue(http, 'consensus_suspect{member="beta"}')).toBe(0);
      expect(await unharmed(cluster, name)).toEqual({ alive: true, ready: true });
    }
  });

  test('forged outcomes, reports, plans and rounds are dropped with their reason; the node stays up and ready', async () => {
    const alpha = cluster.instance('alpha').http;
    const client = hostileClient(cluster, 'alpha', 'node'); // beta's certificate: messages must say from "beta"
    const vector = Array.from({ length: width }, () => 1);
    const outcome = {
      epoch_id: 'guessed-epoch',
      initiator: 'beta',
      topology: 'K999',
      started_at_ms: Date.now() + 3_600_000,
      time_seconds: 0,
      error: 0,
      converged: true,
      rounds: -1,
      lambda2: 5,
      step: 0.2,
      epsilon: 1e-6,
      unreachable: [],
      members: [
        { member: 'zeta', reachable: true, divergence: 0, error: 0, final: vector, rounds_run: 1, snapshot: vector },
      ],
      vector_keys: [...measurementKeys],
      agreed: vector,
    };
    const plan = {
      epoch_id: 'forged-plan',
      initiator: 'beta',
      participants: ['alpha', 'beta'],
      edges: [{ a: 'alpha', b: 'beta', weight: 1 }],
      step: 0.2,
      rounds: 10_000,
      round_timeout_ms: 500,
      vector_keys: [...measurementKeys],
      initiator_value: [],
    };
    const report = {
      epoch_id: 'sent-ahead',
      instance: 'beta',
      snapshot: vector,
      final: vector,
      rounds_run: 1,
      dropped: [],
    };
    const reasons = ['unknown_epoch', 'invalid_plan', 'invalid_round'] as const;
    const before = Object.fromEntries(
      await Promise.all(reasons.map(async (r) => [r, (await rejected(alpha, r)) ?? 0] as const)),
    ) as Record<(typeof reasons)[number], number>;
    const messages = [
      encode('Peer', 'Link', { from: 'beta', outcome }),
      encode('Peer', 'Link', { from: 'beta', report }),
      encode('Peer', 'Link', { from: 'beta', plan }),
      encode('Peer', 'Link', { from: 'beta', round: { epoch_id: 'e', from: 'beta', round: -1, value: vector } }),
      encode('Peer', 'Link', { from: 'beta', round: { epoch_id: 'e', from: 'beta', round: 2e9, value: vector } }),
    ];
    const result = await callRaw(client, '/triad.v1.Peer/Link', messages, { kind: 'client-stream' });
    client.close();
    expect(result.status).toBe('OK');
    await waitFor(
      async () => ((await rejected(alpha, 'invalid_round')) ?? 0) >= before.invalid_round + 2,
      5_000,
      'drops counted',
    );
    expect(await rejected(alpha, 'unknown_epoch')).toBe(before.unknown_epoch + 2);
    expect(await rejected(alpha, 'invalid_plan')).toBe(before.invalid_plan + 1);
    // No series was made from the wire's words.
    const text = await (await fetch(`http://${alpha}/metrics`)).text();
    expect(text).not.toContain('K999');
    expect(text).not.toContain('zeta');
    expect(await unharmed(cluster, 'alpha')).toEqual({ alive: true, ready: true });
    // And consensus still runs: the next epoch converges.
    const again = await runTriad(['force-consensus-sync', '--json', '--config', cluster.config.clusterFile]);
    expect((JSON.parse(again.stdout) as { converged: boolean }).converged).toBe(true);
  });
});
