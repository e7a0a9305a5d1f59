import { connect, type Socket } from 'node:net';
import type { Client } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectionLimits } from '../../../src/connections/index.js';
import { maxMessageBytes, messageBoundOf } from '../../../src/edges/index.js';
import { serviceConstructor } from '../../../src/protocol/index.js';
import { runTriad, scrapeValue, TestCluster, waitFor } from '../../fixtures/cluster.js';
import { callRaw, encode, hostileClient, peakRssMb, unharmed, type CallResult } from '../../fixtures/hostile.js';

/**
 * Hostile input at every gRPC method of a real node (alpha of a three-node cluster with mutual TLS, its heap bounded
 * at 192 MB as `triad up` runs it). Each case: the status and triad code it must get, then alpha is still alive and
 * ready, and nothing was written (audit, versions, operations). The sender holds a valid certificate of the role the
 * method allows: authentication narrows who can send, not what.
 */
const heapMb = 192;
/** What a node may reach with its heap full and the request in flight: heap + code + buffers, far from the 2 GB a bomb would take. */
const rssBoundMb = 320;

let cluster: TestCluster;
const clients: Client[] = [];
const client = (role: 'operator' | 'ingest' | 'node' | 'viewer', gzip = false) => {
  const made = hostileClient(cluster, 'alpha', role, { gzip });
  clients.push(made);
  return made;
};

async function written(): Promise<Record<string, number>> {
  const { rows } = await cluster.db!.pool.query<{ audit: number; versions: number; operations: number }>(
    `SELECT (SELECT count(*)::int FROM audit_log) AS audit,
            (SELECT count(*)::int FROM desired_state_versions) AS versions,
            (SELECT count(*)::int FROM operation_history WHERE source = 'ingest') AS operations`,
  );
  return rows[0]!;
}

/** A RecordOperations request of `n` operations, each with only a framework id: small on the wire, many items. */
function manyOperations(n: number, framework = 'R1_SOVEREIGNTY_MEASUREMENT'): Buffer {
  const writer = protobuf.Writer.create();
  const item = protobuf.Writer.create()
    .uint32((2 << 3) | 2)
    .string(framework)
    .finish();
  for (let i = 0; i < n; i++) writer.uint32((1 << 3) | 2).bytes(item);
  return Buffer.from(writer.finish());
}

const mutate = (command: object, options: object = {}) =>
  encode('Admin', 'Mutate', { ...command, options: { reason: 'hostile suite', ...options } });

interface Case {
  name: string;
  send: () => Promise<CallResult>;
  expected: { status: string; code?: string; details: string | RegExp };
}

const cases: Case[] = [
  {
    name: 'Ingest: 5,001 operations (one over the cap), refused on the bytes',
    send: () => callRaw(client('ingest'), '/triad.v1.Ingest/RecordOperations', manyOperations(5_001)),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'operations has 5001 items, at most 5000 are allowed per call: split the batch',
    },
  },
  {
    name: 'Ingest: 1 MB of empty operations (the ~62 MB-of-heap message), refused before decoding',
    send: () =>
      callRaw(
        client('ingest'),
        '/triad.v1.Ingest/RecordOperations',
        Buffer.alloc(1024 * 1024, Buffer.from([0x0a, 0x00])),
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: /^operations has 524288 items, at most 5000/,
    },
  },
  {
    name: 'Ingest: 3 MB request, over the 2 MiB limit',
    send: () => callRaw(client('ingest'), '/triad.v1.Ingest/RecordOperations', Buffer.alloc(3 * 1024 * 1024, 0x0a)),
    expected: { status: 'RESOURCE_EXHAUSTED', details: /larger than 2097152|2097152/ },
  },
  {
    name: 'Ingest: gzip bomb, 64 MB of operations in a few KB',
    send: () =>
      callRaw(
        client('ingest', true),
        '/triad.v1.Ingest/RecordOperations',
        Buffer.alloc(64 * 1024 * 1024, Buffer.from([0x0a, 0x00])),
      ),
    expected: {
      status: 'RESOURCE_EXHAUSTED',
      details: `Received message that decompresses to a size larger than ${maxMessageBytes}`,
    },
  },
  {
    name: 'Node/GetState: gzip bomb, inflates to the server limit, refused at its own 1 KiB bound',
    send: () => callRaw(client('viewer', true), '/triad.v1.Node/GetState', Buffer.alloc(16 * 1024 * 1024)),
    expected: {
      status: 'RESOURCE_EXHAUSTED',
      details: `Received message that decompresses to a size larger than ${maxMessageBytes}`,
    },
  },
  {
    name: 'Node/GetState: 2 KiB, over its 1 KiB bound',
    send: () => callRaw(client('viewer'), '/triad.v1.Node/GetState', Buffer.alloc(2048, 0x08)),
    expected: {
      status: 'RESOURCE_EXHAUSTED',
      code: 'RESOURCE_EXHAUSTED',
      details: `/triad.v1.Node/GetState: the request is 2048 bytes (decompressed), at most ${messageBoundOf('/triad.v1.Node/GetState').maxBytes} are accepted`,
    },
  },
  {
    name: 'Node/GetState: bytes that are not protobuf',
    send: () => callRaw(client('viewer'), '/triad.v1.Node/GetState', Buffer.from([0x0a, 0x7f, 0x01])),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: /^\/triad\.v1\.Node\/GetState: the request is not valid protobuf/,
    },
  },
  {
    name: 'Node/Heartbeat: a 300-character from',
    send: () =>
      callRaw(client('node'), '/triad.v1.Node/Heartbeat', encode('Node', 'Heartbeat', { from: 'b'.repeat(300) })),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'from: 300 characters, at most 256 are allowed',
    },
  },
  {
    name: 'Admin/Mutate: NUL in the reason',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/Mutate',
        mutate({ activate: { layers: ['R1'] } }, { reason: 'oops\u0000' }),
        {
          kind: 'server-stream',
        },
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'options.reason: control character U+0000 at position 4 (not allowed in any text field)',
    },
  },
  {
    name: 'Admin/Mutate: a terminal escape in the label',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/Mutate',
        mutate({ activate: { layers: ['R1'] } }, { label: 'v1\u001b[2J' }),
        {
          kind: 'server-stream',
        },
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'options.label: control character U+001B at position 2 (not allowed in any text field)',
    },
  },
  {
    name: 'Admin/Mutate: a 5,000-character reason',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/Mutate',
        mutate({ activate: { layers: ['R1'] } }, { reason: 'r'.repeat(5_000) }),
        {
          kind: 'server-stream',
        },
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'options.reason: 5000 characters, at most 1000 are allowed',
    },
  },
  {
    name: 'Admin/Mutate: 300 layers',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/Mutate',
        mutate({ activate: { layers: new Array(300).fill('R1') } }),
        {
          kind: 'server-stream',
        },
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'activate.layers: 300 items, at most 256 are allowed',
    },
  },
  {
    name: 'Admin/Mutate: 200 unknown instances are not all echoed back',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/Mutate',
        mutate({ activate: { layers: ['R1'], instances: Array.from({ length: 200 }, (_, i) => `ghost${i}`) } }),
        { kind: 'server-stream' },
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details:
        'unknown instances "ghost0", "ghost1", "ghost2", "ghost3", "ghost4" and 195 more (instances: alpha, beta, gamma)',
    },
  },
  {
    name: 'Admin/Mutate: percentage -5',
    send: () =>
      callRaw(client('operator'), '/triad.v1.Admin/Mutate', mutate({ activate: { layers: ['R1'], percentage: -5 } }), {
        kind: 'server-stream',
      }),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: /percentage must be a whole number from 1 to 100, received -5/,
    },
  },
  {
    name: 'Admin/Mutate: a timeout of 10^15 ms',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/Mutate',
        mutate({ activate: { layers: ['R1'] } }, { timeout_ms: 1e15 }),
        {
          kind: 'server-stream',
        },
      ),
    expected: { status: 'INVALID_ARGUMENT', code: 'INPUT_INVALID', details: /timeout/ },
  },
  {
    name: 'Admin/Mutate: a correlation id with spaces, in metadata',
    send: () =>
      callRaw(client('operator'), '/triad.v1.Admin/Mutate', mutate({ activate: { layers: ['R1'] } }), {
        kind: 'server-stream',
        metadata: { 'x-correlation-id': 'drop table audit_log' },
      }),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details:
        'metadata x-correlation-id: "drop table audit_log" has characters outside letters, digits, ".", "_", ":" and "-"',
    },
  },
  {
    name: 'Admin/Mutate: a 100-character trace id, in metadata',
    send: () =>
      callRaw(client('operator'), '/triad.v1.Admin/Mutate', mutate({ activate: { layers: ['R1'] } }), {
        kind: 'server-stream',
        metadata: { 'x-trace-id': 't'.repeat(100) },
      }),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'metadata x-trace-id: 100 characters, at most 64 are allowed',
    },
  },
  {
    name: 'Admin/Mutate: 17 KiB, over its 16 KiB bound',
    send: () =>
      callRaw(client('operator'), '/triad.v1.Admin/Mutate', Buffer.alloc(17 * 1024), { kind: 'server-stream' }),
    expected: { status: 'RESOURCE_EXHAUSTED', code: 'RESOURCE_EXHAUSTED', details: /at most 16384 are accepted$/ },
  },
  {
    name: 'Admin/CheckHealth: 1,000 layers',
    send: () =>
      callRaw(
        client('viewer'),
        '/triad.v1.Admin/CheckHealth',
        encode('Admin', 'CheckHealth', { layers: new Array(1000).fill('R9') }),
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'layers: 1000 items, at most 256 are allowed',
    },
  },
  {
    name: 'Admin/History: a limit of 10^9',
    send: () => callRaw(client('viewer'), '/triad.v1.Admin/History', encode('Admin', 'History', { limit: 1e9 })),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: '--limit must be from 1 to 1000, received 1000000000',
    },
  },
  {
    name: 'Admin/ForceConsensusSync: an instance name with a NUL',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/ForceConsensusSync',
        encode('Admin', 'ForceConsensusSync', { instances: ['alpha\u0000'] }),
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'instances[0]: control character U+0000 at position 5 (not allowed in any text field)',
    },
  },
  {
    name: 'Admin/SetTestMeasurement: Infinity',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/SetTestMeasurement',
        encode('Admin', 'SetTestMeasurement', { value: [1, Infinity] }),
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'value[1]: expected a finite number, received Infinity',
    },
  },
  {
    name: 'Admin/SetTestMeasurement: NaN',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/SetTestMeasurement',
        encode('Admin', 'SetTestMeasurement', { value: [Number.NaN] }),
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'value[0]: expected a finite number, received NaN',
    },
  },
  {
    name: 'Admin/InjectFault: an error rate of 2 and a latency of 10^15 ms',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/InjectFault',
        encode('Admin', 'InjectFault', {
          instance: 'alpha',
          layer: 'R1',
          error_rate: 2,
          latency_ms: 1e15,
          reason: 'x',
        }),
      ),
    expected: { status: 'INVALID_ARGUMENT', code: 'INPUT_INVALID', details: /error rate.*latency|latency.*error/i },
  },
  {
    name: 'Admin/RunR6Orchestration: a 1,000-character actor',
    send: () =>
      callRaw(
        client('operator'),
        '/triad.v1.Admin/RunR6Orchestration',
        encode('Admin', 'RunR6Orchestration', { actor: 'a'.repeat(1000) }),
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'actor: 1000 characters, at most 200 are allowed',
    },
  },
  {
    name: 'Peer/Apply: version -1',
    send: () => callRaw(client('node'), '/triad.v1.Peer/Apply', encode('Peer', 'Apply', { version: -1 })),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'version must be a whole number ≥ 0, received -1',
    },
  },
  {
    name: 'Peer/Link: a 70 KB message, over its 64 KiB bound',
    send: () => callRaw(client('node'), '/triad.v1.Peer/Link', [Buffer.alloc(70_000, 0x0a)], { kind: 'client-stream' }),
    expected: {
      status: 'RESOURCE_EXHAUSTED',
      code: 'RESOURCE_EXHAUSTED',
      details: /Peer\/Link: the request is 70000 bytes/,
    },
  },
  {
    name: 'Peer/Link: NaN in a round value',
    send: () =>
      callRaw(
        client('node'),
        '/triad.v1.Peer/Link',
        [
          encode('Peer', 'Link', {
            from: 'beta',
            round: { epoch_id: 'e', from: 'beta', round: 1, value: [Number.NaN] },
          }),
        ],
        { kind: 'client-stream' },
      ),
    expected: {
      status: 'INVALID_ARGUMENT',
      code: 'INPUT_INVALID',
      details: 'round.value[0]: expected a finite number, received NaN',
    },
  },
];

describe('hostile input at every gRPC method of a real node', () => {
  let before: Record<string, number>;

  beforeAll(async () => {
    cluster = await TestCluster.start({ env: { NODE_OPTIONS: `--max-old-space-size=${heapMb}` } });
    await cluster.waitReady();
    await cluster.waitForEpoch();
    before = await written();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
  });

  test.each(cases)('$name', async ({ send, expected }) => {
    const result = await send();
    expect(result.status).toBe(expected.status);
    if (expected.code) expect(result.code).toBe(expected.code);
    if (typeof expected.details === 'string') expect(result.details).toBe(expected.details);
    else expect(result.details).toMatch(expected.details);
    expect(await unharmed(cluster, 'alpha')).toEqual({ alive: true, ready: true });
    expect(await written()).toEqual(before);
  });

  test('after every case, and the bombs among them, alpha peaked below its memory bound', () => {
    const pid = cluster.processes.get('alpha')!.pid!;
    expect(peakRssMb(pid)).toBeLessThan(rssBoundMb);
  });

  test('Ingest: 5,000 operations of 5,000 unknown frameworks add no metric series', async () => {
    const http = cluster.instance('alpha').http;
    const series = async () =>
      (await (await fetch(`http://${http}/metrics`)).text()).split('\n').filter((l) => /framework=/.test(l)).length;
    const seriesBefore = await series();
    const writer = protobuf.Writer.create();
    for (let i = 0; i < 5_000; i++) {
      const item = protobuf.Writer.create()
        .uint32((2 << 3) | 2)
        .string(`R1_GHOST_${i}`)
        .uint32((4 << 3) | 2)
        .string('alpha')
        .finish();
      writer.uint32((1 << 3) | 2).bytes(item);
    }
    expect(await callRaw(client('ingest'), '/triad.v1.Ingest/RecordOperations', Buffer.from(writer.finish()))).toEqual({
      status: 'OK',
      details: '',
    });
    expect(await series()).toBe(seriesBefore);
    expect(await written()).toEqual(before);
  });

  test("Ingest: another instance's operations are refused item by item, naming where they go", async () => {
    const method = serviceConstructor('Ingest').service.RecordOperations!;
    const bytes = method.requestSerialize({
      operations: [
        { framework_id: 'R1_SOVEREIGNTY_MEASUREMENT', instance: 'beta', started_at_ms: Date.now(), success: true },
      ],
    });
    const reply = await new Promise<{ results: { accepted: boolean; reason: string }[] }>((resolve, reject) => {
      client('ingest').makeUnaryRequest(
        method.path,
        (b: Buffer) => b,
        (b: Buffer) => method.responseDeserialize(b) as { results: { accepted: boolean; reason: string }[] },
        bytes,
        (err, res) => (err || !res ? reject(err ?? new Error('no reply')) : resolve(res)),
      );
    });
    expect(reply.results).toEqual([
      expect.objectContaining({
        accepted: false,
        reason: "operations[0].instance: this node is alpha and counts only its own operations; send beta's to beta",
      }),
    ]);
    expect(await written()).toEqual(before);
  });

  test(`more than ${connectionLimits.perAddress} connections from one address are closed at accept, and counted`, async () => {
    const { grpcPort, http } = cluster.instance('alpha');
    const refusedBefore = (await scrapeValue(http, 'triad_connections_refused_total{reason="per_address"}')) ?? 0;
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < connectionLimits.perAddress + 10; i++) {
        const socket = connect(grpcPort, '127.0.0.1');
        socket.on('error', () => undefined);
        sockets.push(socket);
      }
      await waitFor(
        async () =>
          ((await scrapeValue(http, 'triad_connections_refused_total{reason="per_address"}')) ?? 0) >=
          refusedBefore + 10,
        10_000,
        'the connections over the cap to be refused',
      );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    // Peers reconnect once the address is below its cap again.
    await waitFor(async () => (await unharmed(cluster, 'alpha')).ready, 15_000, 'alpha ready again');
    expect(await written()).toEqual(before);
  });

  test('CLI: a terminal escape in --reason, sent to a node, exits 2 naming the field; nothing written', async () => {
    const result = await runTriad([
      'activate-layers',
      '--layers',
      'R1',
      '--instances',
      'alpha',
      '--reason',
      'deploy \u001b[31mnow',
      '--target',
      cluster.instance('alpha').grpc,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/reason/);
    expect(result.stderr).toMatch(/control character/);
    expect(await unharmed(cluster, 'alpha')).toEqual({ alive: true, ready: true });
    expect(await written()).toEqual(before);
  });

  test('HTTP: a 9 KiB header gets 431, a POST gets 405, and the endpoint still answers', async () => {
    const { http } = cluster.instance('alpha');
    const big = await fetch(`http://${http}/metrics`, { headers: { 'x-junk': 'j'.repeat(9 * 1024) } });
    expect(big.status).toBe(431);
    const post = await fetch(`http://${http}/metrics`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(post.status).toBe(405);
    expect((await fetch(`http://${http}/health`)).status).toBe(200);
  });
});
