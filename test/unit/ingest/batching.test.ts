import { describe, expect, test } from 'vitest';
import { Fifo } from '../../../src/ingest/batching.js';
import { backoffMs, classifyFailure, takeBatch } from '../../../src/ingest/index.js';
import { TriadError } from '../../../src/shared/index.js';

interface Item {
  name: string;
  size: number;
  solo: boolean;
}

function queueOf(...sizes: (number | `${number}!`)[]): Fifo<Item> {
  const queue = new Fifo<Item>();
  sizes.forEach((s, i) => {
    const solo = typeof s === 'string';
    queue.push({ name: `s${i}`, size: solo ? Number(s.slice(0, -1)) : s, solo });
  });
  return queue;
}

const names = (batch: Item[]) => batch.map((b) => b.name);

describe('takeBatch', () => {
  test('groups whole submissions in order while they fit', () => {
    const queue = queueOf(500, 500, 500, 500, 500);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s0', 's1', 's2', 's3']);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s4']);
    expect(takeBatch(queue, 2_000)).toEqual([]);
  });

  test('never splits a submission: an oversized head goes alone, and grouping stops at the first that does not fit', () => {
    const queue = queueOf(5_000, 10, 1_500, 600, 1);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s0']);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s1', 's2']);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s3', 's4']);
  });

  test('a solo submission is written alone and ends the group before it', () => {
    const queue = queueOf(1, '1!', '1!', 1, 1);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s0']);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s1']);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s2']);
    expect(names(takeBatch(queue, 2_000))).toEqual(['s3', 's4']);
  });
});

test('Fifo keeps order across compaction and puts retried items back at the front', () => {
  const fifo = new Fifo<number>();
  for (let i = 0; i < 5_000; i++) fifo.push(i);
  const taken: number[] = [];
  for (let i = 0; i < 3_000; i++) taken.push(fifo.shift()!);
  fifo.unshiftAll([2_998, 2_999]);
  expect(fifo.length).toBe(2_002);
  expect(fifo.peek()).toBe(2_998);
  const rest = fifo.drain();
  expect(rest.slice(0, 3)).toEqual([2_998, 2_999, 3_000]);
  expect(rest.at(-1)).toBe(4_999);
  expect(fifo.length).toBe(0);
  expect(fifo.shift()).toBeUndefined();
});

test('backoff doubles from the initial wait up to the cap', () => {
  const policy = { initialBackoffMs: 100, maxBackoffMs: 5_000 };
  expect([0, 1, 2, 3, 4, 5, 6, 60].map((a) => backoffMs(a, policy))).toEqual([
    100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000,
  ]);
});

describe('classifyFailure', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  test('a lost or refused connection is transient, with or without a code', () => {
    expect(classifyFailure(coded('ECONNREFUSED'))).toBe('transient');
    expect(classifyFailure(coded('ECONNRESET'))).toBe('transient');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classifyFailure(new Error('Query read timeout'))).toBe('transient');
    expect(classifyFailure(new TriadError('STORAGE_UNAVAILABLE', 'cannot reach PostgreSQL'))).toBe('transient');
    expect(classifyFailure(coded('57P01'))).toBe('transient'); // admin_shutdown: server restarting
    expect(classifyFailure(coded('08006'))).toBe('transient'); // connection_failure
    expect(classifyFailure(coded('57014'))).toBe('transient'); // statement_timeout
    expect(classifyFailure(coded('53100'))).toBe('transient'); // disk_full
  });

  test('rows the database refuses are data; everything else is fatal', () => {
    expect(classifyFailure(coded('23514'))).toBe('data'); // check_violation
    expect(classifyFailure(coded('22P02'))).toBe('data'); // invalid_text_representation
    expect(classifyFailure(coded('42P01'))).toBe('fatal'); // undefined_table
    const badPassword = new TriadError('STORAGE_UNAVAILABLE', 'cannot reach PostgreSQL', { cause: coded('28P01') });
    expect(classifyFailure(badPassword)).toBe('fatal');
    expect(classifyFailure(new TypeError('x.map is not a function'))).toBe('fatal');
  });
});
