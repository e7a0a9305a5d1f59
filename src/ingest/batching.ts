// The pure parts of the operation sink: grouping queued submissions into batches, the retry schedule, and how a
// failed write is judged. sink.ts does the I/O around them.
import { retryable } from '../storage/index.js';

/** One submit() waiting to be written. */
export interface Submission {
  /** Records in the submission (a submission is never split: it commits whole or not at all). */
  readonly size: number;
  /** Written alone, not grouped: set after a grouped batch was refused for its data, to find the culprit. */
  solo: boolean;
}

/** First-in first-out without Array.shift()'s O(n) per take: a queue of single-record submissions can be long. */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    // Drop the slot's reference: a taken submission (and its records) must be collectable before compaction.
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts items back at the front, first of them first. */
  unshiftAll(items: readonly T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

/**
 * Takes the next batch off the queue: the head submission always (even when it alone is over `maxRows`: it must go
 * in one statement to commit whole), then following submissions in order while the total stays within `maxRows`.
 * A solo submission is never grouped.
 */
export function takeBatch<T extends Submission>(queue: Fifo<T>, maxRows: number): T[] {
  const first = queue.shift();
  if (!first) return [];
  const batch = [first];
  if (first.solo) return batch;
  let rows = first.size;
  for (let next = queue.peek(); next && !next.solo && rows + next.size <= maxRows; next = queue.peek()) {
    batch.push(next);
    rows += next.size;
    queue.shift();
  }
  return batch;
}

export interface RetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Exponential: initial, ×2 per failed attempt, capped. No jitter: one flusher per node retries one statement, so
 * there is no herd of clients to spread out, and tests can predict every wait.
 */
export function backoffMs(attempt: number, policy: RetryPolicy): number {
  return Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(attempt, 30));
}

/**
 * - transient: the write may succeed unchanged later (connection lost or refused, server restarting, a timeout):
 *   keep the records and retry. Safe even when the statement did commit and only its answer was lost, because the
 *   insert skips operation_ids already present.
 * - data: PostgreSQL refused the rows themselves (SQLSTATE class 22 data exception, 23 constraint violation).
 * - fatal: anything else (a bug, a missing table, bad credentials): retrying the same statement cannot help.
 */
export type FailureKind = 'transient' | 'data' | 'fatal';

export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof TypeError || err instanceof RangeError) return 'fatal'; // building the statement went wrong
  if (retryable(err)) return 'transient';
  const state = sqlStateOf(err);
  // No SQLSTATE: the server never answered (socket closed mid-statement, client-side query timeout).
  if (state === undefined) return 'transient';
  if (state.startsWith('22') || state.startsWith('23')) return 'data';
  // query_canceled (statement_timeout) and class 53 insufficient resources (disk full, out of memory) can pass.
  if (state === '57014' || state.startsWith('53')) return 'transient';
  return 'fatal';
}

/** The first SQLSTATE along the cause chain; errno names (ECONNRESET, EPIPE) are not SQLSTATEs. */
export function sqlStateOf(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; typeof current === 'object' && current !== null && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
