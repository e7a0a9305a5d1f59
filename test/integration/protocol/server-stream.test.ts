import type { Client, Server } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createConnections, plaintextCredentials, type Connections } from '../../../src/connections/index.js';
import { callServerStream, serverStreamHandler, type MutationEvent } from '../../../src/protocol/index.js';

const silent = pino({ level: 'silent' });

/**
 * A real grpc-js server and client on loopback, with Admin.Mutate (a server-streaming method) served by
 * serverStreamHandler: what every node does, without a node around it.
 */
describe('serverStreamHandler over a real gRPC connection', () => {
  let server: Server;
  let client: Client;
  let lateEmits: Promise<void>;
  let connections: Connections;

  beforeAll(async () => {
    connections = createConnections(plaintextCredentials());
    server = connections.server();
    connections.addServices(server, {
      Admin: {
        Mutate: serverStreamHandler<object, MutationEvent>(silent, 'Mutate', (_request, emit) => {
          // Larger than HTTP/2's 64 KiB window: the write is still pending when the handler returns and end() is called.
          emit({ progress: { ...progress('alpha'), error: 'x'.repeat(1_000_000) } });
          // Work the handler started but does not wait for (a push to a node it did not target) finishes later and
          // tries to report: the stream has ended by then.
          lateEmits = new Promise((resolve) =>
            setImmediate(() => {
              emit({ progress: progress('beta') });
              resolve();
            }),
          );
          emit({ result: { plan: undefined, instances: [], complete: true, duration_ms: 1 } as never });
          return Promise.resolve();
        }),
      },
    });
    const port = await connections.listen(server, '127.0.0.1', 0, 'test');
    client = connections.client('Admin', `127.0.0.1:${port}`);
  });

  afterAll(() => {
    connections?.close();
    server?.forceShutdown();
  });

  test('an emit after the handler finished is dropped: the client still gets every message and a clean end', async () => {
    const received: MutationEvent[] = [];
    await callServerStream<object, MutationEvent>(
      client,
      'Mutate',
      {},
      {
        deadlineMs: 5_000,
        onMessage: (m) => received.push(m),
      },
    );
    await lateEmits;
    expect(received.map((m) => (m.progress ? `progress ${m.progress.instance}` : m.result ? 'result' : '?'))).toEqual([
      'progress alpha',
      'result',
    ]);
    // The connection is still healthy for the next call.
    const again: MutationEvent[] = [];
    await callServerStream<object, MutationEvent>(
      client,
      'Mutate',
      {},
      {
        deadlineMs: 5_000,
        onMessage: (m) => again.push(m),
      },
    );
    expect(again).toHaveLength(2);
    expect(received[0]!.progress!.error).toHaveLength(1_000_000);
  });
});

function progress(instance: string) {
  return {
    instance,
    targeted: true,
    reachable: true,
    applied: true,
    applied_version: 1,
    apply_ms: 1,
    expected_ms: 0,
    error: '',
  };
}
