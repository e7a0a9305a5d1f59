import { afterAll, beforeAll, expect, test } from 'vitest';
import { createPool, withTransaction } from '../../../src/storage/index.js';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../../fixtures/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../fixtures/tcp-proxy.js';

// Found by the fault suite's "PostgreSQL restart during ingest and mutations" (test/faults): a connection lost while a
// pooled client was checked out, between two queries, raised an unhandled 'error' event and the node process died.

let db: TestDatabase;
let proxy: TcpProxy;
beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(testDatabaseUrl);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
});
afterAll(async () => {
  await proxy?.close();
  await db?.drop();
});

test('a connection lost inside a transaction fails that transaction, not the process; the pool recovers', async () => {
  const pool = createPool(proxy.via(db.url), { applicationName: 'triad-test-connection-loss' });
  try {
    const transaction = withTransaction(pool, async (client) => {
      await client.query('SELECT 1');
      proxy.cut();
      // The lost connection is noticed here, between queries, with none of ours in flight.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await client.query('SELECT 2');
    });
    await expect(transaction).rejects.toThrow();
    proxy.restore();
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
  } finally {
    await pool.end();
  }
});
