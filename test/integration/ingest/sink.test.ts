import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createOperationSink, type OperationSinkHandle } from '../../../src/ingest/index.js';
import type { OperationRecord } from '../../../src/runtime/index.js';
import { systemClock } from '../../../src/shared/index.js';
import { createPool, type StoragePool } from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../fixtures/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy;
const opened: { sink: OperationSinkHandle; pool: StoragePool }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
});

afterEach(async () => {
  proxy.restore();
  for (const { sink, pool } of opened.splice(0)) {
    await sink.stop({ deadlineMs: 5_000 });
    await pool.end();
  }
});

afterAll(async () => {
  await proxy?.close();
  await db?.drop();
});

/** A sink whose pool reaches PostgreSQL through the proxy, so the test can take the database away from it alone. */
function openSink(options: { capacity?: number; maxBatchRows?: number; maxConnections?: number } = {}) {
  const pool = createPool(proxy.via(db.url), {
    applicationName: 'triad-test-ingest',
    max: options.maxConnections ?? 2,
  });
  const depths: number[] = [];
  const sink = createOperationSink({
    pool,
    clock: systemClock,
    log: pino({ level: 'silent' }),
    retry: { initialBackoffMs: 20, maxBackoffMs: 200 },
    ...(options.capacity ? { capacity: options.capacity } : {}),
    ...(options.maxBatchRows ? { maxBatchRows: options.maxBatchRows } : {}),
    onDepthChange: (d) => depths.push(d),
  });
  opened.push({ sink, pool });
  return { sink, pool, depths };
}

function rows(n: number, over: Partial<OperationRecord> = {}): OperationRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    operationId: randomUUID(),
    frameworkId: 'R3_TRIGGER_DETECTION',
    layer: 'R3',
    instance: ['alpha', 'beta', 'gamma'][i % 3]!,
    startedAt: Date.now() - 1_000,
    durationMs: 40 + i,
    burdenSavedHours: 0.75,
    success: true,
    errorType: null,
    traceId: null,
    source: 'ingest',
    cohort: null,
    ...over,
  }));
}

/** How many rows each of `ids` has in operation_history (read directly, not through the proxy). */
async function stored(ids: readonly string[]): Promise<{ rows: number; distinct: number }> {
  const { rows: result } = await db.pool.query<{ rows: string; distinct: string }>(
    'SELECT count(*) AS rows, count(DISTINCT operation_id) AS distinct FROM operation_history WHERE operation_id = ANY($1::uuid[])',
    [ids],
  );
  return { rows: Number(result[0]!.rows), distinct: Number(result[0]!.distinct) };
}

const idsOf = (records: readonly OperationRecord[]) => records.map((r) => r.operationId);

describe('against a real database', () => {
  test('concurrent submits land exactly once each, with every column as recorded', async () => {
    const { sink } = openSink({ maxBatchRows: 500 });
    const batches = Array.from({ length: 20 }, (_, i) =>
      rows(50, i === 0 ? { success: false, errorType: 'dependency', traceId: 'trace-abc', cohort: 'partial' } : {}),
    );
    await Promise.all(batches.map((b) => sink.submit(b)));
    const all = batches.flat();
    expect(await stored(idsOf(all))).toEqual({ rows: 1_000, distinct: 1_000 });
    expect(sink.depth()).toBe(0);
    // Grouping happened: 20 submits did not take 20 statements.
    expect(sink.stats().committedBatches).toBeLessThan(20);

    const first = batches[0]![1]!;
    const { rows: row } = await db.pool.query(
      `SELECT operation_id, framework_id, layer, instance, (extract(epoch FROM started_at) * 1000)::bigint AS started_ms,
              duration_ms, burden_saved_hours, success, error_type, trace_id, source, cohort
         FROM operation_history WHERE operation_id = $1`,
      [first.operationId],
    );
    expect(row[0]).toEqual({
      operation_id: first.operationId,
      framework_id: 'R3_TRIGGER_DETECTION',
      layer: 'R3',
      instance: 'beta',
      started_ms: String(first.startedAt),
      duration_ms: 41,
      burden_saved_hours: 0.75,
      success: false,
      error_type: 'dependency',
      trace_id: 'trace-abc',
      source: 'ingest',
      cohort: 'partial',
    });
  });

  test('values that need care in an array literal arrive intact', async () => {
    const { sink } = openSink();
    const awkward = ['a"b', 'back\\slash', 'comma,{brace}', 'NULL', '', ' spaced ', 'ünïcødé ✓'];
    const batch = awkward.map((traceId, i) => ({
      ...rows(1)[0]!,
      traceId,
      frameworkId: `fw ${traceId}`,
      cohort: i % 2 ? null : ('full' as const),
      durationMs: [0, 1e-9, 1e21, 86_400_000.5][i % 4]!,
    }));
    await sink.submit(batch);
    const { rows: stored } = await db.pool.query<{
      trace_id: string;
      framework_id: string;
      cohort: string | null;
      duration_ms: number;
    }>(
      'SELECT trace_id, framework_id, cohort, duration_ms FROM operation_history WHERE operation_id = ANY($1::uuid[]) ORDER BY id',
      [idsOf(batch)],
    );
    expect(stored).toEqual(
      batch.map((r) => ({
        trace_id: r.traceId,
        framework_id: r.frameworkId,
        cohort: r.cohort,
        duration_ms: r.durationMs,
      })),
    );
  });

  test('a resubmitted batch (same operation_ids) adds nothing and still resolves', async () => {
    const { sink } = openSink();
    const batch = rows(300);
    await sink.submit(batch);
    await sink.submit(batch);
    await sink.submit(batch.slice(100, 200));
    expect(await stored(idsOf(batch))).toEqual({ rows: 300, distinct: 300 });
    expect(sink.stats()).toMatchObject({ committedRecords: 700, duplicateRecords: 400 });
  });

  test('a commit whose acknowledgement is lost is retried and lands once', async () => {
    const { sink, pool } = openSink({ maxConnections: 1 });
    await pool.query('SELECT 1'); // the one connection is open, so the next thing the server says is the insert's answer
    const batch = rows(200);
    proxy.loseNextReply();
    await sink.submit(batch);
    expect(await stored(idsOf(batch))).toEqual({ rows: 200, distinct: 200 });
    expect(sink.stats()).toMatchObject({ failedAttempts: 1, committedRecords: 200, duplicateRecords: 200 });
  });

  test('the rows of a batch the database refuses are written for nobody else: only the culprit is refused', async () => {
    const { sink } = openSink();
    const first = rows(5);
    const good = rows(10);
    const bad = rows(2, { durationMs: 1 });
    bad[1]!.durationMs = -1; // passes no validation, violates operation_history's CHECK (duration_ms >= 0)
    const alsoGood = rows(10);
    const outcomes = [first, good, bad, alsoGood].map((b) => sink.submit(b));
    await expect(outcomes[2]).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    await Promise.all([outcomes[0], outcomes[1], outcomes[3]]);
    expect(await stored(idsOf([...first, ...good, ...alsoGood]))).toEqual({ rows: 25, distinct: 25 });
    // One statement per submission: its good row went down with the bad one.
    expect(await stored(idsOf(bad))).toEqual({ rows: 0, distinct: 0 });
  });

  test('over capacity: RESOURCE_EXHAUSTED at once, and nothing of that batch is ever written', async () => {
    const { sink } = openSink({ capacity: 100 });
    proxy.cut();
    const held = rows(80);
    const heldDone = sink.submit(held);
    await sleep(100);
    expect(sink.depth()).toBe(80);
    const refused = rows(30);
    await expect(sink.submit(refused)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    proxy.restore();
    await heldDone;
    expect(await stored(idsOf(held))).toEqual({ rows: 80, distinct: 80 });
    expect(await stored(idsOf(refused))).toEqual({ rows: 0, distinct: 0 });
  });

  test('PostgreSQL goes away during a steady stream and comes back: held, not acknowledged, then all land once', async () => {
    const { sink, depths } = openSink({ maxBatchRows: 500 });
    interface Sent {
      ids: string[];
      sentAt: number;
      settledAt?: number;
      error?: unknown;
      done: Promise<void>;
    }
    const sent: Sent[] = [];
    let producing = true;
    const producer = (async () => {
      while (producing) {
        const batch = rows(25);
        const entry: Partial<Sent> = { ids: idsOf(batch), sentAt: performance.now() };
        entry.done = sink.submit(batch).then(
          () => void (entry.settledAt = performance.now()),
          (err: unknown) => void ((entry.settledAt = performance.now()), (entry.error = err)),
        );
        sent.push(entry as Sent);
        await sleep(5);
      }
    })();

    await sleep(400);
    const cutAt = performance.now();
    proxy.cut();
    await sleep(800);
    const depthInOutage = sink.depth();
    const sentInOutage = sent.filter((s) => s.sentAt > cutAt).length;
    const restoredAt = performance.now();
    proxy.restore();
    await sleep(400);
    producing = false;
    await producer;
    await Promise.all(sent.map((s) => s.done));

    // Every submit was acknowledged in the end.
    expect(sent.filter((s) => s.error !== undefined)).toEqual([]);
    expect(sentInOutage).toBeGreaterThan(20);
    // Nothing submitted during the outage was acknowledged before PostgreSQL came back…
    const during = sent.filter((s) => s.sentAt > cutAt && s.sentAt < restoredAt);
    expect(during.length).toBe(sentInOutage);
    expect(during.filter((s) => s.settledAt! < restoredAt)).toEqual([]);
    // …and nothing at all was, once the answers already on the wire at the cut (commits made before it) were in.
    expect(sent.filter((s) => s.settledAt! > cutAt + 100 && s.settledAt! < restoredAt)).toEqual([]);
    // Held in the queue during the outage, drained after it.
    expect(depthInOutage).toBeGreaterThanOrEqual(sentInOutage * 25);
    expect(Math.max(...depths)).toBeGreaterThanOrEqual(depthInOutage);
    expect(sink.depth()).toBe(0);
    expect(depths.at(-1)).toBe(0);
    expect(sink.stats().failedAttempts).toBeGreaterThan(0);

    const ids = sent.flatMap((s) => s.ids);
    expect(await stored(ids)).toEqual({ rows: ids.length, distinct: ids.length });
  });

  test('stop() drains what is queued into the database before returning', async () => {
    const { sink } = openSink();
    const batches = [rows(100), rows(100), rows(100)];
    const outcomes = batches.map((b) => sink.submit(b));
    await sink.stop({ deadlineMs: 10_000 });
    expect(sink.stats()).toMatchObject({ committedRecords: 300, abandonedRecords: 0 });
    await Promise.all(outcomes);
    expect(await stored(idsOf(batches.flat()))).toEqual({ rows: 300, distinct: 300 });
  });
});
