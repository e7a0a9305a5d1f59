import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { recordOperations } from '../../../src/connections/index.js';
import { createServiceClient } from '../../fixtures/grpc.js';
import type { WireOperation } from '../../../src/protocol/index.js';
import { scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';

const valueOr0 = async (http: string, selector: string) => (await scrapeValue(http, selector)) ?? 0;
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../../fixtures/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../fixtures/tcp-proxy.js';

const op = (overrides: Partial<WireOperation> = {}): Partial<WireOperation> => ({
  operation_id: randomUUID(),
  framework_id: 'R2_CONSENT_AUTO_RESOLVER',
  instance: 'alpha',
  started_at_ms: Date.now() - 1_000,
  duration_ms: 120,
  burden_saved_hours: 0.25,
  success: true,
  ...overrides,
});

describe('RecordOperations through a real node into PostgreSQL', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.waitReady();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('good items are committed and counted exactly; bad ones get their own reasons; nothing half-written', async () => {
    const alpha = cluster.instance('alpha');
    const selector = 'framework_operations_total{layer="R2",framework="R2_CONSENT_AUTO_RESOLVER",cohort="full"}';
    const before = await valueOr0(alpha.http, selector);
    const good = Array.from({ length: 10 }, () => op());
    const bad = [
      op({ framework_id: 'R9_NOPE' }),
      op({ burden_saved_hours: Number.NaN }),
      op({ started_at_ms: Date.now() + 3_600_000 }),
    ];
    const reply = await recordOperations(createServiceClient('Ingest', alpha.grpc, 'ingest'), [
      ...good.slice(0, 5),
      ...bad,
      ...good.slice(5),
    ]);
    expect(reply.accepted).toBe(10);
    expect(reply.invalid).toBe(3);
    expect(reply.results.filter((r) => !r.accepted).map((r) => [r.index, r.reason.split(':')[0]])).toEqual([
      [5, 'operations[5].framework_id'],
      [6, 'operations[6].burden_saved_hours'],
      [7, 'operations[7].started_at_ms'],
    ]);
    const { rows } = await cluster.db!.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM operation_history WHERE operation_id = ANY($1::uuid[])',
      [[...good, ...bad].map((o) => o.operation_id)],
    );
    expect(Number(rows[0]!.n)).toBe(10);
    expect(await valueOr0(alpha.http, selector)).toBe(before + 10);
  });

  test('an oversized batch is refused whole with INPUT_INVALID', async () => {
    const huge = Array.from({ length: 5_001 }, () => op());
    await expect(
      recordOperations(createServiceClient('Ingest', cluster.instance('beta').grpc, 'ingest'), huge),
    ).rejects.toMatchObject({
      code: 'INPUT_INVALID',
    });
    const { rows } = await cluster.db!.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM operation_history WHERE operation_id = $1',
      [huge[0]!.operation_id],
    );
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

describe('PostgreSQL goes away during a steady ingest and comes back', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let cluster: TestCluster;

  beforeAll(async () => {
    db = await createTestDatabase();
    const { hostname, port } = new URL(testDatabaseUrl);
    proxy = await startTcpProxy(hostname, Number(port || 5432));
    // The nodes reach PostgreSQL only through the proxy; the test's own pool goes direct, to count what landed.
    cluster = await TestCluster.start({ databaseUrl: proxy.via(db.url) });
    await cluster.waitReady();
  });

  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
    await db?.drop();
  });

  test('every acknowledged operation is in operation_history exactly once; none is acknowledged while it is away', async () => {
    const client = createServiceClient('Ingest', cluster.instance('gamma').grpc, 'ingest');
    const acknowledged: string[] = [];
    const ackedDuringOutage: number[] = [];
    let outage = false;
    let stop = false;
    // A client that retries a batch, with the same operation ids, until it is acknowledged: what outside automation does.
    const producer = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 50 }, () =>
          op({ instance: 'gamma', framework_id: 'R1_SOVEREIGNTY_MEASUREMENT' }),
        );
        for (;;) {
          try {
            await recordOperations(client, batch, { deadlineMs: 3_000 });
            if (outage) ackedDuringOutage.push(Date.now());
            acknowledged.push(...batch.map((b) => b.operation_id!));
            break;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await waitFor(() => acknowledged.length >= 500, 10_000, 'a steady stream');
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 300)); // replies already on the wire at the cut may still land
    outage = true;
    const countAtCut = acknowledged.length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    outage = false;
    expect(ackedDuringOutage).toEqual([]);
    expect(acknowledged.length).toBeLessThanOrEqual(countAtCut + 50);
    proxy.restore();
    await waitFor(() => acknowledged.length >= countAtCut + 500, 20_000, 'the stream to resume after recovery');
    stop = true;
    await producer;
    client.close();
    const { rows } = await db.pool.query<{ rows: string; ids: string }>(
      'SELECT count(*) AS rows, count(DISTINCT operation_id) AS ids FROM operation_history WHERE operation_id = ANY($1::uuid[])',
      [acknowledged],
    );
    expect(Number(rows[0]!.ids)).toBe(acknowledged.length);
    expect(Number(rows[0]!.rows)).toBe(acknowledged.length);
  });
});
