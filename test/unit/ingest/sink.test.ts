import { describe, expect, test } from 'vitest';
import { createOperationSink } from '../../../src/ingest/index.js';
import { TriadError } from '../../../src/shared/index.js';
import { ManualClock } from '../../fixtures/manual-clock.js';
import { records, recordingLog, scriptedWriter, settle, track } from './helpers.js';

function setup(options: { capacity?: number; maxBatchRows?: number } = {}) {
  const clock = new ManualClock();
  const writer = scriptedWriter();
  const log = recordingLog();
  const depths: number[] = [];
  const sink = createOperationSink({
    writer,
    clock,
    log,
    ...options,
    retry: { initialBackoffMs: 100, maxBackoffMs: 1_000 },
    onDepthChange: (d) => depths.push(d),
  });
  return { clock, writer, log, depths, sink };
}

const connectionLost = () => new Error('Connection terminated unexpectedly');
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('acknowledgement and grouping', () => {
  test('submit() resolves only once its batch is committed', async () => {
    const { writer, sink } = setup();
    const batch = records(3);
    const submitted = track(sink.submit(batch));
    await settle();
    expect(writer.calls).toHaveLength(1);
    expect(writer.last().records).toEqual(batch);
    expect(submitted.state).toBe('pending');
    expect(sink.depth()).toBe(3);
    writer.last().succeed();
    await settle();
    expect(submitted.state).toBe('resolved');
    expect(sink.depth()).toBe(0);
  });

  test('what arrives during a write goes, grouped and in order, into the next statement', async () => {
    const { writer, sink, depths } = setup({ maxBatchRows: 250 });
    const first = records(10);
    const later = [records(100), records(100), records(100)];
    const outcomes = [first, ...later].map((r) => track(sink.submit(r)));
    await settle();
    // The first submit started a write on its own; the three that came during it wait.
    expect(writer.calls.map((c) => c.records.length)).toEqual([10]);
    expect(sink.depth()).toBe(310);
    writer.last().succeed();
    await settle();
    expect(outcomes.map((o) => o.state)).toEqual(['resolved', 'pending', 'pending', 'pending']);
    expect(writer.calls.map((c) => c.records.length)).toEqual([10, 200]);
    expect(writer.last().records).toEqual([...later[0]!, ...later[1]!]);
    writer.last().succeed();
    await settle();
    expect(writer.last().records).toEqual(later[2]);
    writer.last().succeed();
    await settle();
    expect(outcomes.map((o) => o.state)).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
    expect(depths).toEqual([10, 110, 210, 310, 300, 100, 0]);
  });

  test('an idle sink runs nothing: no timer, no write', async () => {
    const { clock, writer, sink } = setup();
    await sink.submit(records(0));
    await settle();
    expect(writer.calls).toHaveLength(0);
    expect(clock.pendingSleepers).toBe(0);
  });
});

describe('backpressure', () => {
  test('refuses a batch the bounded queue cannot take whole, accepting none of it', async () => {
    const { writer, sink } = setup({ capacity: 100 });
    const inFlight = track(sink.submit(records(60)));
    await settle();
    const queued = track(sink.submit(records(30)));
    const tooMany = sink.submit(records(11));
    await expect(tooMany).rejects.toThrow(TriadError);
    await expect(tooMany).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message:
        '[RESOURCE_EXHAUSTED] persistence queue full: 90 of 100 operations wait for PostgreSQL, no room for 11 more; none of them was accepted, retry later',
    });
    expect(sink.depth()).toBe(90);
    const fits = track(sink.submit(records(10)));
    expect(sink.depth()).toBe(100);
    await expect(sink.submit(records(101))).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: '[RESOURCE_EXHAUSTED] a batch of 101 operations is larger than the persistence queue (100): split it',
    });
    writer.last().succeed();
    await settle();
    expect(writer.last().records).toHaveLength(40);
    writer.last().succeed();
    await settle();
    expect([inFlight.state, queued.state, fits.state]).toEqual(['resolved', 'resolved', 'resolved']);
    expect(writer.calls.flatMap((c) => c.records)).toHaveLength(100);
  });
});

describe('while PostgreSQL is away', () => {
  test('records stay queued, the same batch is retried with backoff, and everything lands in order on recovery', async () => {
    const { clock, writer, sink, log } = setup({ maxBatchRows: 1_000 });
    const a = records(5);
    const first = track(sink.submit(a));
    await settle();
    writer.last().fail(connectionLost());
    await settle();
    // Submits during the outage are taken (within the bound) but not acknowledged.
    const b = records(7);
    const second = track(sink.submit(b));
    expect(sink.depth()).toBe(12);

    const waits: number[] = [];
    for (const expected of [100, 200, 400, 800, 1_000, 1_000]) {
      const callsBefore = writer.calls.length;
      await clock.advance(expected - 1);
      expect(writer.calls.length).toBe(callsBefore); // not a millisecond early
      await clock.advance(1);
      expect(writer.calls.length).toBe(callsBefore + 1);
      waits.push(expected);
      expect(writer.last().records).toEqual(a); // the same batch, not regrouped
      writer.last().fail(refused());
      await settle();
    }
    expect([first.state, second.state]).toEqual(['pending', 'pending']);
    expect(sink.depth()).toBe(12);

    await clock.advance(1_000);
    writer.last().succeed();
    await settle();
    expect(first.state).toBe('resolved');
    expect(writer.last().records).toEqual(b);
    writer.last().succeed();
    await settle();
    expect(second.state).toBe('resolved');
    expect(sink.depth()).toBe(0);

    const warnings = log.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(7);
    expect(warnings[0]!.fields).toMatchObject({ code: 'STORAGE_UNAVAILABLE', attempt: 1, retry_in_ms: 100, depth: 5 });
    expect(String(warnings[0]!.fields.err)).toBe(
      'TriadError: [STORAGE_UNAVAILABLE] cannot write operation_history: Connection terminated unexpectedly',
    );
    expect(log.lines.find((l) => l.message === 'operation_history writable again')?.fields).toMatchObject({
      attempts: 7,
      outage_ms: 100 + 200 + 400 + 800 + 1_000 + 1_000 + 1_000,
    });
    expect(sink.stats()).toMatchObject({ committedRecords: 12, committedBatches: 2, failedAttempts: 7 });
  });

  test('a batch whose rows the database refuses is split so only the culprit is refused', async () => {
    const { writer, sink } = setup();
    const blocker = track(sink.submit(records(1)));
    await settle();
    const good1 = records(2);
    const bad = records(1, { durationMs: -1 });
    const good2 = records(3);
    const outcomes = [good1, bad, good2].map((r) => sink.submit(r));
    const tracked = outcomes.map((o) => track(o));
    writer.last().succeed();
    await settle();
    expect(writer.last().records).toHaveLength(6);
    writer.last().fail(Object.assign(new Error('violates check constraint'), { code: '23514' }));
    await settle();
    // Retried one submission at a time, in order.
    expect(writer.last().records).toEqual(good1);
    writer.last().succeed();
    await settle();
    expect(writer.last().records).toEqual(bad);
    writer.last().fail(Object.assign(new Error('new row violates check constraint'), { code: '23514' }));
    await settle();
    expect(writer.last().records).toEqual(good2);
    writer.last().succeed();
    await settle();
    expect([blocker.state, ...tracked.map((t) => t.state)]).toEqual(['resolved', 'resolved', 'rejected', 'resolved']);
    await expect(outcomes[1]).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: '[INPUT_INVALID] operation_history refused the batch: new row violates check constraint',
    });
    expect(sink.depth()).toBe(0);
  });

  test('a failure retrying cannot cure (no such table) refuses the batch at once', async () => {
    const { clock, writer, sink, log } = setup();
    const submitted = sink.submit(records(2));
    await settle();
    writer.last().fail(Object.assign(new Error('relation "operation_history" does not exist'), { code: '42P01' }));
    await expect(submitted).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(clock.pendingSleepers).toBe(0);
    expect(writer.calls).toHaveLength(1);
    expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });
});

describe('stop', () => {
  test('flushes what is queued, then refuses new submits', async () => {
    const { writer, sink, log } = setup();
    const queued = track(sink.submit(records(4)));
    await settle();
    const stopped = sink.stop({ deadlineMs: 5_000 });
    await expect(sink.submit(records(1))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message:
        '[STORAGE_UNAVAILABLE] the batch was refused: the sink is stopped (node shutting down): nothing of it was acknowledged; retry elsewhere',
    });
    writer.last().succeed();
    await stopped;
    expect(queued.state).toBe('resolved');
    expect(sink.stats()).toMatchObject({ committedRecords: 4, abandonedRecords: 0 });
    expect(log.lines.at(-1)).toMatchObject({
      level: 'info',
      fields: { flushed: 4, abandoned: 0 },
      message: 'operation sink stopped; everything acknowledged is persisted',
    });
    expect(sink.stop()).toBe(stopped);
  });

  test('at the deadline, what could not be written is refused, never acknowledged', async () => {
    const { clock, writer, sink } = setup();
    const inFlight = sink.submit(records(3));
    const inFlightState = track(inFlight);
    await settle();
    const queued = sink.submit(records(2));
    const queuedState = track(queued);
    writer.last().fail(connectionLost());
    await settle();
    // The first retry is due 100 ms after the failure; the deadline comes first.
    const stopped = track(sink.stop({ deadlineMs: 50 }));
    await clock.advance(49);
    expect(stopped.state).toBe('pending');
    await clock.advance(1);
    await settle();
    expect(stopped.state).toBe('resolved');
    expect(sink.stats()).toMatchObject({ committedRecords: 0, abandonedRecords: 2 });
    expect([inFlightState.state, queuedState.state]).toEqual(['rejected', 'rejected']);
    await expect(queued).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    // The batch was waiting out a backoff, not executing: retrying stops and it is refused too.
    await expect(inFlight).rejects.toMatchObject({
      message:
        '[STORAGE_UNAVAILABLE] the batch was not persisted before the shutdown deadline: nothing of it was acknowledged; retry elsewhere',
    });
    expect(writer.calls).toHaveLength(1);
    expect(sink.depth()).toBe(0);
    expect(clock.pendingSleepers).toBe(0);
  });

  test('an insert still executing at the deadline settles its submitters by its own outcome', async () => {
    const { clock, writer, sink } = setup();
    const inFlight = track(sink.submit(records(3)));
    await settle();
    const stopped = track(sink.stop({ deadlineMs: 1_000 }));
    await clock.advance(1_000);
    expect(stopped.state).toBe('resolved');
    expect(sink.stats().abandonedRecords).toBe(0);
    expect(inFlight.state).toBe('pending');
    writer.last().succeed();
    await settle();
    expect(inFlight.state).toBe('resolved');
  });
});
