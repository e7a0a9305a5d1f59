import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Client } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { createConnections, plaintextCredentials, recordOperations } from '../../../src/connections/index.js';
import { ingestService } from '../../../src/edges/index.js';
import {
  createOperationSink,
  createRecorder,
  ingestRules,
  type IngestDeps,
  type OperationSinkHandle,
} from '../../../src/ingest/index.js';
import { createInProcessLiveState, createRedisLiveState, type LiveState } from '../../../src/live-state/index.js';
import type { WireOperation } from '../../../src/protocol/index.js';
import type { OperationRecord } from '../../../src/runtime/index.js';
import { systemClock, TriadError } from '../../../src/shared/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';
import { deleteKeysUnder, keysUnder, randomKeyPrefix, requireRedis, testRedisUrl } from '../../fixtures/redis.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const rules = ingestRules(layers, ['alpha', 'beta', 'gamma']);
const log = pino({ level: 'silent' });

let db: TestDatabase;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await db?.drop();
});

interface Served {
  address: string;
  client: Client;
  sink: OperationSinkHandle;
  recorded: OperationRecord[][];
}

/** The Ingest service on a real grpc-js server on loopback, persisting to this file's database. */
async function serve(
  options: {
    capacity?: number;
    rateLimiter?: LiveState;
    rateLimit?: IngestDeps['rateLimit'];
    clientRateLimit?: IngestDeps['rateLimit'];
  } = {},
): Promise<Served> {
  const sink = createOperationSink({
    pool: db.pool,
    clock: systemClock,
    log,
    ...(options.capacity ? { capacity: options.capacity } : {}),
  });
  const limiter = options.rateLimiter ?? createInProcessLiveState();
  const recorded: OperationRecord[][] = [];
  // The Ingest edge a node serves, on a real grpc-js server made by the connection owner.
  const connections = createConnections(plaintextCredentials());
  const server = connections.server({
    Ingest: ingestService({
      log,
      record: createRecorder({
        sink,
        rules,
        rateLimiter: limiter,
        rateLimit: options.rateLimit ?? { capacity: 100_000, refillPerSecond: 100_000 },
        ...(options.clientRateLimit ? { clientRateLimit: options.clientRateLimit } : {}),
        clock: systemClock,
        log,
        onRecorded: (records) => recorded.push([...records]),
      }),
    }),
  });
  const port = await connections.listen(server, '127.0.0.1', 0, 'test');
  const address = `127.0.0.1:${port}`;
  const client = connections.client('Ingest', address);
  cleanups.push(async () => {
    connections.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await sink.stop();
    await limiter.close();
  });
  return { address, client, sink, recorded };
}

function op(over: Partial<WireOperation> = {}): Partial<WireOperation> {
  return {
    operation_id: randomUUID(),
    framework_id: 'R2_TRIGGER_FRAMEWORK_BUILDER',
    layer: 'R2',
    instance: 'alpha',
    started_at_ms: Date.now() - 5_000,
    duration_ms: 30,
    burden_saved_hours: 2,
    success: true,
    ...over,
  };
}

async function countStored(ids: readonly string[]): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM operation_history WHERE operation_id = ANY($1::uuid[])',
    [ids],
  );
  return Number(rows[0]!.n);
}

async function totalRows(): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM operation_history');
  return Number(rows[0]!.n);
}

describe('RecordOperations over gRPC', () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve();
  });

  test('stores exactly the accepted items and gives every other one its reason', async () => {
    const ops = [
      op(),
      op({ burden_saved_hours: Number.NaN }),
      op({ framework_id: 'R4_FEEDBACK_COMPOSITION', layer: '', instance: 'gamma' }),
      op({ duration_ms: Number.POSITIVE_INFINITY }),
      op({ framework_id: 'R9_UNKNOWN' }),
      op({ success: false, error_type: 'timeout' }),
      op({ started_at_ms: Date.now() + 3_600_000 }),
      op({ success: false }),
    ];
    const reply = await recordOperations(served.client, ops);
    expect(reply).toMatchObject({ accepted: 3, invalid: 5, rate_limited: 0 });
    expect(reply.results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(reply.results.map((r) => r.accepted)).toEqual([true, false, true, false, false, true, false, false]);
    // NaN and Infinity travel in proto3 doubles and are caught on arrival.
    expect(reply.results[1]!.reason).toBe(
      'operations[1].burden_saved_hours: expected a finite number ≥ 0, received NaN',
    );
    expect(reply.results[3]!.reason).toBe('operations[3].duration_ms: expected a finite number ≥ 0, received Infinity');
    expect(reply.results[4]!.reason).toMatch(/^operations\[4\]\.framework_id: unknown framework "R9_UNKNOWN"/);
    expect(reply.results[6]!.reason).toMatch(/^operations\[6\]\.started_at_ms: .* by more than the 5m of clock skew/);
    expect(reply.results[7]!.reason).toBe(
      'operations[7].error_type: required when success is false (one of timeout, dependency, validation, internal, injected)',
    );

    const acceptedIds = reply.results.filter((r) => r.accepted).map((r) => r.operation_id);
    expect(acceptedIds).toEqual([ops[0]!.operation_id, ops[2]!.operation_id, ops[5]!.operation_id]);
    expect(await countStored(acceptedIds)).toBe(3);
    expect(await countStored(ops.map((o) => o.operation_id!))).toBe(3);
    expect(served.recorded.at(-1)!.map((r) => r.operationId)).toEqual(acceptedIds);
    const { rows } = await db.pool.query<{ layer: string; error_type: string | null }>(
      'SELECT layer, error_type FROM operation_history WHERE operation_id = ANY($1::uuid[]) ORDER BY id',
      [acceptedIds],
    );
    expect(rows).toEqual([
      { layer: 'R2', error_type: null },
      { layer: 'R4', error_type: null },
      { layer: 'R2', error_type: 'timeout' },
    ]);

    // The client retries the whole batch (say its reply was lost): accepted again, stored once.
    const again = await recordOperations(served.client, ops);
    expect(again.accepted).toBe(3);
    expect(await countStored(ops.map((o) => o.operation_id!))).toBe(3);
  });

  test("items without a trace_id carry the call's trace id from metadata", async () => {
    const ops = [op(), op({ trace_id: 'own-trace-7' }), op({ operation_id: '' })];
    const reply = await recordOperations(served.client, ops, { context: { trace_id: 'meta-trace-42' } });
    expect(reply.accepted).toBe(3);
    const minted = reply.results[2]!.operation_id;
    expect(minted).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const { rows } = await db.pool.query<{ operation_id: string; trace_id: string }>(
      'SELECT operation_id, trace_id FROM operation_history WHERE operation_id = ANY($1::uuid[]) ORDER BY id',
      [reply.results.map((r) => r.operation_id)],
    );
    expect(rows).toEqual([
      { operation_id: ops[0]!.operation_id, trace_id: 'meta-trace-42' },
      { operation_id: ops[1]!.operation_id, trace_id: 'own-trace-7' },
      { operation_id: minted, trace_id: 'meta-trace-42' },
    ]);
  });

  test('an oversized batch is INPUT_INVALID (exit 2) and writes nothing', async () => {
    const before = await totalRows();
    const ops = Array.from({ length: 5_001 }, () => op());
    const error = await recordOperations(served.client, ops).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TriadError);
    expect(error).toMatchObject({
      code: 'INPUT_INVALID',
      exitCode: 2,
      message: '[INPUT_INVALID] operations has 5001 items, at most 5000 are allowed per call: split the batch',
    });
    await expect(recordOperations(served.client, [])).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    expect(await totalRows()).toBe(before);
  });
});

test('a full persistence queue fails the call with RESOURCE_EXHAUSTED; nothing of that batch is ever written', async () => {
  const served = await serve({ capacity: 10 });
  // Inserts wait while another session holds SHARE on the table: the first call's batch stays in the queue.
  const holder = await db.pool.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE operation_history IN SHARE MODE');
  let released = false;
  try {
    const held = Array.from({ length: 8 }, () => op());
    const heldCall = recordOperations(served.client, held);
    const deadline = Date.now() + 10_000;
    while (served.sink.depth() < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(served.sink.depth()).toBe(8);

    const refused = Array.from({ length: 5 }, () => op());
    const error = await recordOperations(served.client, refused).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect((error as TriadError).message).toMatch(/persistence queue full: 8 of 10 operations wait/);

    await holder.query('COMMIT');
    released = true;
    await expect(heldCall).resolves.toMatchObject({ accepted: 8 });
    expect(await countStored(held.map((o) => o.operation_id!))).toBe(8);
    expect(await countStored(refused.map((o) => o.operation_id!))).toBe(0);
    expect(served.recorded.flat().map((r) => r.operationId)).toEqual(held.map((o) => o.operation_id));
  } finally {
    if (!released) await holder.query('ROLLBACK');
    holder.release();
  }
});

test('the per-framework rate limit, shared through Redis, refuses the excess with when to retry', async () => {
  await requireRedis();
  const prefix = randomKeyPrefix();
  cleanups.push(() => deleteKeysUnder(prefix));
  const served = await serve({
    rateLimiter: createRedisLiveState(testRedisUrl, { keyPrefix: prefix }),
    rateLimit: { capacity: 5, refillPerSecond: 0.01 },
    clientRateLimit: { capacity: 1_000, refillPerSecond: 1_000 },
  });
  const ops = [
    ...Array.from({ length: 8 }, () => op({ framework_id: 'R3_TRIGGER_DETECTION', layer: 'R3' })),
    op({ framework_id: 'R4_HIERARCHICAL_COMPOSITION', layer: 'R4' }),
    op({ framework_id: 'R3_TRIGGER_DETECTION', layer: 'R3', burden_saved_hours: -1 }),
  ];
  const reply = await recordOperations(served.client, ops);
  expect(reply).toMatchObject({ accepted: 6, invalid: 1, rate_limited: 3 });
  const limited = reply.results.filter((r) => r.reason.startsWith('rate limited'));
  expect(limited.map((r) => r.index)).toEqual([5, 6, 7]);
  for (const r of limited) {
    expect(r.reason).toMatch(
      /^rate limited: retry after \d+ ms \(framework R3_TRIGGER_DETECTION: 0\.01 operations\/s, burst 5\)$/,
    );
  }
  // 0.01 tokens/s: about 100 s per token, the k-th refused item 100 s after the one before.
  const waits = limited.map((r) => Number(/retry after (\d+) ms/.exec(r.reason)![1]));
  expect(waits[0]).toBeGreaterThan(90_000);
  expect(waits[1]! - waits[0]!).toBe(100_000);
  expect(await countStored(reply.results.filter((r) => r.accepted).map((r) => r.operation_id))).toBe(6);
  expect(await countStored(ops.map((o) => o.operation_id!))).toBe(6);
  expect(await keysUnder(prefix)).toEqual([
    `${prefix}rate_limiters:ingest-client:local`,
    `${prefix}rate_limiters:ingest:R3_TRIGGER_DETECTION`,
    `${prefix}rate_limiters:ingest:R4_HIERARCHICAL_COMPOSITION`,
  ]);

  // The bucket is shared: a second node (another limiter on the same Redis) finds it empty too.
  const other = await serve({
    rateLimiter: createRedisLiveState(testRedisUrl, { keyPrefix: prefix }),
    rateLimit: { capacity: 5, refillPerSecond: 0.01 },
    clientRateLimit: { capacity: 1_000, refillPerSecond: 1_000 },
  });
  const second = await recordOperations(other.client, [op({ framework_id: 'R3_TRIGGER_DETECTION', layer: 'R3' })]);
  expect(second).toMatchObject({ accepted: 0, rate_limited: 1 });
});
