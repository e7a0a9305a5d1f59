import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { lockKey, SessionLock } from '../../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';

// Found by the fault suite's "leader cut from PostgreSQL only" (test/faults): packets dropped on the way, no reset,
// so the leader's lock check neither answered nor failed, and the node went on calling itself leader.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A proxy to PostgreSQL that can go silent: freeze() stops carrying bytes both ways but keeps every socket open. */
async function silentProxy(url: string) {
  const target = new URL(url);
  const sockets: Socket[] = [];
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.push(client, upstream);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('error', () => undefined);
      from.on('data', (chunk: Buffer) => {
        if (!frozen) to.write(chunk);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String(port);
  return {
    url: via.toString(),
    freeze: () => (frozen = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a leader whose PostgreSQL goes silent gives up the lock within the check deadline, not minutes later', async () => {
  const proxy = await silentProxy(db.url);
  const lost: Error[] = [];
  const lock = new SessionLock(proxy.url, lockKey(`test:fencing:${Math.random()}`), {
    verifyTimeoutMs: 500,
    onLost: (err) => lost.push(err),
  });
  try {
    expect(await lock.tryAcquire()).toBe(true);
    expect(await lock.verify()).toBe(true);
    proxy.freeze();
    const started = Date.now();
    expect(await lock.verify()).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(lock.isHeld).toBe(false);
    expect(lost.map((e) => e.message)).toEqual(["PostgreSQL did not answer the leader lock's check within 500 ms"]);
  } finally {
    await lock.release();
    await proxy.close();
  }
});
