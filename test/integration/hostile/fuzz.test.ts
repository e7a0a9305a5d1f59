import type { Client } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { methodRoles } from '../../../src/edges/index.js';
import { TestCluster } from '../../fixtures/cluster.js';
import { callRaw, encode, hostileClient, peakRssMb, unharmed } from '../../fixtures/hostile.js';

/**
 * A bounded fuzz of RPC payloads against a live node: random bytes, and valid requests with bytes flipped, cut or
 * inserted, sent to every method with a role allowed to call it, some gzipped. Whatever arrives, the node answers
 * each call with a status (never a hang), never with INTERNAL (an unhandled error), and stays alive and ready.
 * Seeded, so a failure replays; 1,500 calls, about half a minute (TRIAD_FUZZ_RUNS for more).
 */
const runs = Number(process.env.TRIAD_FUZZ_RUNS ?? 1_500);
/** TRIAD_FUZZ_SEED explores other inputs locally; CI replays the same ones. */
const seed = Number(process.env.TRIAD_FUZZ_SEED ?? 20261202);

/** A valid request per method to start mutations from (the one each method is most often sent). */
const seeds: Record<string, Buffer> = {
  '/triad.v1.Node/GetState': encode('Node', 'GetState', { include_figures: true }),
  '/triad.v1.Node/Heartbeat': encode('Node', 'Heartbeat', { from: 'beta', sent_at_ms: Date.now() }),
  '/triad.v1.Peer/Apply': encode('Peer', 'Apply', { version: 0 }),
  '/triad.v1.Peer/Link': encode('Peer', 'Link', {
    from: 'beta',
    round: { epoch_id: 'e1', from: 'beta', round: 1, value: [1, 2] },
  }),
  '/triad.v1.Admin/Mutate': encode('Admin', 'Mutate', {
    activate: { layers: ['R1'] },
    options: { dry_run: true, reason: 'fuzz' },
  }),
  '/triad.v1.Admin/CheckHealth': encode('Admin', 'CheckHealth', { layers: ['R1'] }),
  '/triad.v1.Admin/History': encode('Admin', 'History', { limit: 5 }),
  '/triad.v1.Admin/GetDesiredState': encode('Admin', 'GetDesiredState', {}),
  '/triad.v1.Admin/VerifyAudit': encode('Admin', 'VerifyAudit', {}),
  '/triad.v1.Admin/ForceConsensusSync': encode('Admin', 'ForceConsensusSync', { instances: ['alpha'] }),
  '/triad.v1.Admin/SetTestMeasurement': encode('Admin', 'SetTestMeasurement', { value: [1] }),
  '/triad.v1.Admin/RunR6Orchestration': encode('Admin', 'RunR6Orchestration', { actor: 'fuzz' }),
  '/triad.v1.Admin/InjectFault': encode('Admin', 'InjectFault', {
    instance: 'alpha',
    layer: 'R1',
    clear: true,
    reason: 'fuzz',
  }),
  '/triad.v1.Ingest/RecordOperations': encode('Ingest', 'RecordOperations', {
    operations: [
      { framework_id: 'R1_SOVEREIGNTY_MEASUREMENT', instance: 'alpha', started_at_ms: Date.now(), success: true },
    ],
  }),
};
const methods = Object.keys(seeds);
const kindOf = (method: string) =>
  method === '/triad.v1.Admin/Mutate' ? 'server-stream' : method === '/triad.v1.Peer/Link' ? 'client-stream' : 'unary';

/** A payload: random bytes, or the method's valid request with one edit (an empty request can only grow). */
const payload = (valid: Buffer) => {
  const position = (at: number) => (valid.length === 0 ? 0 : at % valid.length);
  return fc.oneof(
    fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
    fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }).map(({ at, value }) => {
      const edited = Buffer.from(valid);
      if (edited.length > 0) edited[position(at)] = value;
      return edited;
    }),
    fc.nat().map((at) => valid.subarray(0, position(at))),
    fc
      .record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
      .map(({ at, bytes }) => Buffer.concat([valid.subarray(0, position(at)), bytes, valid.subarray(position(at))])),
  );
};

describe('fuzzing RPC payloads against a live node', () => {
  let cluster: TestCluster;
  const clients = new Map<string, Client>();
  const clientFor = (method: string, gzip: boolean) => {
    const role = methodRoles[method]![0]!;
    const key = `${role}:${gzip}`;
    let made = clients.get(key);
    if (!made) clients.set(key, (made = hostileClient(cluster, 'alpha', role, { gzip })));
    return made;
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({ env: { NODE_OPTIONS: '--max-old-space-size=192' } });
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await cluster?.stop();
  });

  test(`${runs} mutated and random payloads: every call answered, none INTERNAL, the node alive and ready`, async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...methods)
          .chain((method) =>
            fc.record({ method: fc.constant(method), bytes: payload(seeds[method]!), gzip: fc.boolean() }),
          ),
        async ({ method, bytes, gzip }) => {
          const result = await callRaw(clientFor(method, gzip), method, bytes, { kind: kindOf(method) });
          statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
          // DEADLINE_EXCEEDED would be a call the node never answered; INTERNAL an error nobody handled.
          expect(result.status, `${method}: ${result.details}`).not.toMatch(/^(INTERNAL|DEADLINE_EXCEEDED|UNKNOWN)$/);
        },
      ),
      { numRuns: runs, seed },
    );
    expect(await unharmed(cluster, 'alpha')).toEqual({ alive: true, ready: true });
    expect(peakRssMb(cluster.processes.get('alpha')!.pid!)).toBeLessThan(320);
    // The fuzz reached past the edge too: some payloads were valid enough to be answered.
    expect(statuses.get('OK') ?? 0).toBeGreaterThan(0);
    expect(statuses.get('INVALID_ARGUMENT') ?? 0).toBeGreaterThan(0);
  });
});
