import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { createRecorder, type IngestDeps } from '../../../src/ingest/index.js';
import { ingestRules } from '../../../src/ingest/index.js';
import { createInProcessLiveState } from '../../../src/live-state/index.js';
import { fromWireOperation, toWireRecordReply, type WireOperation } from '../../../src/protocol/index.js';
import type { OperationRecord, OperationSink } from '../../../src/runtime/index.js';
import { TriadError } from '../../../src/shared/index.js';
import { ManualClock } from '../../fixtures/manual-clock.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const rules = ingestRules(layers, ['alpha', 'beta', 'gamma']);

function operation(framework_id: string, over: Partial<WireOperation> = {}): Partial<WireOperation> {
  return {
    framework_id,
    instance: 'alpha',
    started_at_ms: Date.UTC(2026, 0, 1) - 1_000,
    duration_ms: 5,
    burden_saved_hours: 0.5,
    success: true,
    ...over,
  };
}

/** A sink that records what it was given, in order with the hook's calls. */
function fakeSink(outcome: () => Promise<void> = () => Promise.resolve()) {
  const events: string[] = [];
  const submitted: OperationRecord[][] = [];
  const sink: OperationSink = {
    async submit(records) {
      submitted.push([...records]);
      await outcome();
      events.push(`committed ${records.length}`);
    },
    depth: () => 0,
  };
  return { sink, submitted, events };
}

function recorder(overrides: Partial<IngestDeps> = {}) {
  const clock = new ManualClock();
  const { sink, submitted, events } = fakeSink();
  const recorded: (readonly OperationRecord[])[] = [];
  const deps: IngestDeps = {
    sink,
    rules,
    rateLimiter: createInProcessLiveState({ clock }),
    rateLimit: { capacity: 1_000, refillPerSecond: 1_000 },
    clock,
    log: pino({ level: 'silent' }),
    onRecorded: (records) => {
      recorded.push(records);
      events.push(`recorded ${records.length}`);
    },
    ...overrides,
  };
  // Through the Ingest edge's mapping both ways, as RecordOperations runs it: the reply is what a client receives.
  const recordDomain = createRecorder(deps);
  const record = async (operations: Partial<WireOperation>[], traceId: string | null, client = 'ingest/local') =>
    toWireRecordReply(await recordDomain(operations.map(fromWireOperation), traceId, client));
  return { record, submitted, events, recorded, clock };
}

describe('one call', () => {
  test('answers every item; the good ones go to the sink as one batch, then to the hook', async () => {
    const { record, submitted, events, recorded } = recorder();
    const reply = await record(
      [
        operation('R1_SOVEREIGNTY_MEASUREMENT'),
        operation('R1_SOVEREIGNTY_MEASUREMENT', { burden_saved_hours: Number.NaN }),
        operation('R5_CROSS_INSTANCE_D1', { instance: 'gamma', trace_id: 'item-trace' }),
      ],
      'call-trace',
    );
    expect(reply).toMatchObject({ accepted: 2, invalid: 1, rate_limited: 0 });
    expect(reply.results.map((r) => [r.index, r.accepted, r.reason])).toEqual([
      [0, true, ''],
      [1, false, 'operations[1].burden_saved_hours: expected a finite number ≥ 0, received NaN'],
      [2, true, ''],
    ]);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.map((r) => [r.frameworkId, r.layer, r.traceId, r.source])).toEqual([
      ['R1_SOVEREIGNTY_MEASUREMENT', 'R1', 'call-trace', 'ingest'],
      ['R5_CROSS_INSTANCE_D1', 'R5', 'item-trace', 'ingest'],
    ]);
    expect(submitted[0]!.map((r) => r.operationId)).toEqual([
      reply.results[0]!.operation_id,
      reply.results[2]!.operation_id,
    ]);
    expect(events).toEqual(['committed 2', 'recorded 2']);
    expect(recorded[0]).toEqual(submitted[0]);
  });

  test('with nothing valid submits nothing and calls no hook', async () => {
    const { record, submitted, recorded } = recorder();
    const reply = await record([operation('NOPE')], null);
    expect(reply).toMatchObject({ accepted: 0, invalid: 1, rate_limited: 0 });
    expect(submitted).toEqual([]);
    expect(recorded).toEqual([]);
  });

  test('fails whole when the sink refuses: RESOURCE_EXHAUSTED, no hook', async () => {
    const full = fakeSink(() => Promise.reject(new TriadError('RESOURCE_EXHAUSTED', 'persistence queue full')));
    const { record, recorded } = recorder({ sink: full.sink });
    await expect(record([operation('R2_CONSENT_AUTO_RESOLVER')], null)).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
    });
    expect(recorded).toEqual([]);
  });

  test('a throwing hook does not fail a call whose operations are committed', async () => {
    const { record } = recorder({
      onRecorded: () => {
        throw new Error('metrics bug');
      },
    });
    await expect(record([operation('R2_CONSENT_AUTO_RESOLVER')], null)).resolves.toMatchObject({ accepted: 1 });
  });

  test('stamps the cohort when told how', async () => {
    const { record, submitted } = recorder({ cohortOf: (layer) => (layer === 'R2' ? 'partial' : 'full') });
    await record([operation('R2_CONSENT_AUTO_RESOLVER'), operation('R1_SOVEREIGNTY_MEASUREMENT')], null);
    expect(submitted[0]!.map((r) => r.cohort)).toEqual(['partial', 'full']);
  });
});

/** A client bucket too large to matter, so a test sees the framework buckets alone. */
const ampleClientBucket = { clientRateLimit: { capacity: 1_000_000, refillPerSecond: 1_000_000 } };

describe("rate limit: one token per operation, from the client's bucket and its framework's", () => {
  test('the excess of a framework is refused with when to retry; other frameworks are untouched', async () => {
    const { record, submitted, clock } = recorder({
      rateLimit: { capacity: 3, refillPerSecond: 2 },
      ...ampleClientBucket,
    });
    const reply = await record(
      [
        ...Array.from({ length: 5 }, () => operation('R3_TRIGGER_DETECTION')),
        operation('R4_FEEDBACK_COMPOSITION'),
        operation('R4_FEEDBACK_COMPOSITION'),
      ],
      null,
    );
    expect(reply).toMatchObject({ accepted: 5, invalid: 0, rate_limited: 2 });
    expect(reply.results.map((r) => r.reason)).toMatchInlineSnapshot(`
      [
        "",
        "",
        "",
        "rate limited: retry after 500 ms (framework R3_TRIGGER_DETECTION: 2 operations/s, burst 3)",
        "rate limited: retry after 1000 ms (framework R3_TRIGGER_DETECTION: 2 operations/s, burst 3)",
        "",
        "",
      ]
    `);
    expect(submitted[0]).toHaveLength(5);

    // Half a second later one token is back.
    await clock.advance(500);
    const later = await record([operation('R3_TRIGGER_DETECTION'), operation('R3_TRIGGER_DETECTION')], null);
    expect(later.results.map((r) => r.accepted)).toEqual([true, false]);
    expect(later.results[1]!.reason).toBe(
      'rate limited: retry after 500 ms (framework R3_TRIGGER_DETECTION: 2 operations/s, burst 3)',
    );
  });

  test('one take for the client and one per framework per call, whatever the batch size', async () => {
    const clock = new ManualClock();
    const state = createInProcessLiveState({ clock });
    const keys: string[] = [];
    const { record } = recorder({
      clock,
      rateLimit: { capacity: 2, refillPerSecond: 1 },
      rateLimiter: {
        takeTokens: (key, params, count, now) => (keys.push(key), state.takeTokens(key, params, count, now)),
      },
    });
    await record([operation('R3_AUTO_COMPOSITION'), operation('R3_AUTO_COMPOSITION')], null);
    expect(keys).toEqual(['ingest-client:ingest/local', 'ingest:R3_AUTO_COMPOSITION']);
    keys.length = 0;
    const reply = await record(
      Array.from({ length: 100 }, () => operation('R3_AUTO_COMPOSITION')),
      null,
    );
    expect(reply.rate_limited).toBe(100);
    // The client's bucket refused them all: the framework's is not asked for nothing.
    expect(keys).toEqual(['ingest-client:ingest/local']);
  });

  test("one client cannot use up a framework's budget: another client's operations still pass", async () => {
    const { record } = recorder({
      rateLimit: { capacity: 10, refillPerSecond: 1 },
      clientRateLimit: { capacity: 4, refillPerSecond: 1 },
    });
    const greedy = await record(
      Array.from({ length: 10 }, () => operation('R3_AUTO_COMPOSITION')),
      null,
      'ingest/greedy',
    );
    expect(greedy).toMatchObject({ accepted: 4, rate_limited: 6 });
    expect(greedy.results[4]!.reason).toBe(
      'rate limited: retry after 1000 ms (client ingest/greedy: 1 operations/s, burst 4)',
    );
    const polite = await record([operation('R3_AUTO_COMPOSITION')], null, 'ingest/polite');
    expect(polite).toMatchObject({ accepted: 1, rate_limited: 0 });
  });

  test('an unreachable limiter falls back to buckets in this process: still limited, never unlimited', async () => {
    const clock = new ManualClock();
    const { record, submitted } = recorder({
      clock,
      rateLimit: { capacity: 3, refillPerSecond: 1 },
      rateLimiter: {
        takeTokens: () => Promise.reject(new TriadError('STORAGE_UNAVAILABLE', 'cannot reach Redis')),
      },
      fallbackRateLimiter: createInProcessLiveState({ clock }),
    });
    const reply = await record(
      Array.from({ length: 5 }, () => operation('R6_STRATEGIC_ORCHESTRATION')),
      null,
    );
    expect(reply).toMatchObject({ accepted: 3, rate_limited: 2 });
    expect(submitted[0]).toHaveLength(3);
  });
});

describe('own instance only', () => {
  test("a node counts its own instance's operations and refuses another's, saying where they go", async () => {
    const { record, submitted } = recorder({ rules: ingestRules(layers, ['alpha', 'beta', 'gamma'], {}, 'alpha') });
    const reply = await record(
      [operation('R1_SOVEREIGNTY_MEASUREMENT'), operation('R1_SOVEREIGNTY_MEASUREMENT', { instance: 'beta' })],
      null,
    );
    expect(reply).toMatchObject({ accepted: 1, invalid: 1 });
    expect(reply.results[1]!.reason).toBe(
      "operations[1].instance: this node is alpha and counts only its own operations; send beta's to beta",
    );
    expect(submitted[0]!.map((r) => r.instance)).toEqual(['alpha']);
  });
});
