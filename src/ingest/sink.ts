import type { OperationRecord, OperationSink } from '../runtime/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import { backoffMs, classifyFailure, Fifo, takeBatch, type RetryPolicy, type Submission } from './batching.js';
import { createOperationHistoryStore, type OperationHistoryStore, type Queryable } from '../storage/index.js';

export type SinkLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

interface SinkCommonOptions {
  clock: Clock;
  log: SinkLog;
  /** Records held in memory, queued and in flight together (default 50,000); beyond it submit() is refused. */
  capacity?: number;
  /** Records per insert statement when grouping submissions (default 2,000); a larger single submission still goes whole. */
  maxBatchRows?: number;
  /** Backoff between attempts while PostgreSQL is away (default 100 ms doubling to 5 s). */
  retry?: Partial<RetryPolicy>;
  /** Called with depth() whenever it changes: feed framework_operation_queue_depth from here. */
  onDepthChange?: (depth: number) => void;
}

export type OperationSinkOptions = SinkCommonOptions &
  ({ pool: Queryable; queryTimeoutMs?: number } | { writer: OperationHistoryStore });

export interface SinkStats {
  committedRecords: number;
  committedBatches: number;
  /** Rows the inserts skipped because their operation_id was already stored (retries, resubmitted batches). */
  duplicateRecords: number;
  failedAttempts: number;
  /** Records refused at stop()'s deadline: their submit() rejected, so they were never acknowledged. */
  abandonedRecords: number;
}

export interface OperationSinkHandle extends OperationSink {
  /**
   * Refuses new submits, then flushes what is queued until `deadlineMs` (default 10 s) has passed. At the deadline
   * queued submissions are rejected (never acknowledged) and retrying stops; an insert already executing is not
   * interrupted, and its submitters learn its outcome. Idempotent; logs what it flushed and abandoned.
   */
  stop(options?: { deadlineMs?: number }): Promise<void>;
  stats(): SinkStats;
}

interface Pending extends Submission {
  records: readonly OperationRecord[];
  resolve: () => void;
  reject: (err: TriadError) => void;
}

const defaults = { capacity: 50_000, maxBatchRows: 2_000, initialBackoffMs: 100, maxBackoffMs: 5_000 };

/**
 * The OperationSink over operation_history (DESIGN §7: acknowledged only once durable). A bounded in-memory queue
 * and one flusher: while anything is queued the flusher writes it, grouping every submission that arrived during
 * the previous write into the next statement (group commit — that is where throughput comes from); when the queue
 * is empty nothing runs, no timer included. While PostgreSQL is away, records stay queued in order and the same
 * batch is retried with backoff; new submits are taken until the bound, then refused with RESOURCE_EXHAUSTED.
 *
 * One flusher, not several: batches commit in queue order and a retried batch is never overtaken. One connection is
 * enough: grouping makes each statement bigger as load grows (bench/ingest.js: ~1,300 rows a statement, ~50
 * statements a second, 60,000+ operations a second).
 */
export function createOperationSink(options: OperationSinkOptions): OperationSinkHandle {
  const { clock, log } = options;
  const capacity = options.capacity ?? defaults.capacity;
  const maxBatchRows = options.maxBatchRows ?? defaults.maxBatchRows;
  const retry: RetryPolicy = {
    initialBackoffMs: options.retry?.initialBackoffMs ?? defaults.initialBackoffMs,
    maxBackoffMs: options.retry?.maxBackoffMs ?? defaults.maxBackoffMs,
  };
  if (!Number.isInteger(capacity) || capacity < 1 || !Number.isInteger(maxBatchRows) || maxBatchRows < 1) {
    throw new TriadError(
      'INTERNAL',
      `operation sink: capacity and maxBatchRows must be whole numbers ≥ 1 (received ${capacity}, ${maxBatchRows})`,
    );
  }
  const writer =
    'writer' in options
      ? options.writer
      : createOperationHistoryStore(options.pool, {
          ...(options.queryTimeoutMs !== undefined ? { queryTimeoutMs: options.queryTimeoutMs } : {}),
        });

  const queue = new Fifo<Pending>();
  let queued = 0;
  let inFlight = 0;
  let flushing = false;
  let accepting = true;
  let abandoned = false;
  const abort = new AbortController();
  let idleWaiters: (() => void)[] = [];
  let outage: { since: number; attempts: number } | undefined;
  const stats: SinkStats = {
    committedRecords: 0,
    committedBatches: 0,
    duplicateRecords: 0,
    failedAttempts: 0,
    abandonedRecords: 0,
  };
  let stopping: Promise<void> | undefined;

  const depth = () => queued + inFlight;
  const depthChanged = () => options.onDepthChange?.(depth());

  const flushLoop = async () => {
    try {
      while (queue.length > 0) {
        const batch = takeBatch(queue, maxBatchRows);
        const rows = batch.reduce((sum, p) => sum + p.size, 0);
        queued -= rows;
        inFlight = rows;
        await write(batch);
        inFlight = 0;
        depthChanged();
      }
    } finally {
      flushing = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };

  /** Settles every submission of the batch (or puts it back for solo retries); never throws. */
  const write = async (batch: Pending[]): Promise<void> => {
    const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records);
    for (let attempt = 0; ; attempt++) {
      if (abandoned) return rejectAll(batch, shutdownError('was not persisted before the shutdown deadline'));
      try {
        const inserted = await writer.insert(records);
        stats.committedRecords += records.length;
        stats.committedBatches++;
        stats.duplicateRecords += records.length - inserted;
        if (outage) {
          log.info(
            { operation: 'operation_sink', outage_ms: clock.now() - outage.since, attempts: outage.attempts },
            'operation_history writable again',
          );
          outage = undefined;
        }
        for (const p of batch) p.resolve();
        return;
      } catch (err) {
        stats.failedAttempts++;
        const kind = classifyFailure(err);
        if (kind === 'data' && batch.length > 1) {
          // One submission's rows poison the grouped statement: retry each alone so only the culprit is refused.
          for (const p of batch) p.solo = true;
          queue.unshiftAll(batch);
          queued += records.length;
          inFlight = 0;
          return;
        }
        if (kind !== 'transient') {
          const error = refusal(err, kind);
          log.error({ err: error, operation: 'operation_sink', records: records.length }, 'operations refused');
          return rejectAll(batch, error);
        }
        const waitMs = backoffMs(attempt, retry);
        outage ??= { since: clock.now(), attempts: 0 };
        outage.attempts++;
        log.warn(
          {
            err: unavailable(err),
            code: 'STORAGE_UNAVAILABLE',
            operation: 'operation_sink',
            attempt: attempt + 1,
            retry_in_ms: waitMs,
            depth: depth(),
          },
          'cannot write operation_history; operations stay queued',
        );
        try {
          await clock.sleep(waitMs, abort.signal);
        } catch {
          // aborted by stop()'s deadline: the loop head rejects the batch
        }
      }
    }
  };

  const rejectAll = (batch: readonly Pending[], error: TriadError) => {
    for (const p of batch) p.reject(error);
  };

  const idle = () =>
    new Promise<void>((resolve) => {
      if (!flushing) resolve();
      else idleWaiters.push(resolve);
    });

  return {
    submit(records) {
      if (!accepting) return Promise.reject(shutdownError('was refused: the sink is stopped (node shutting down)'));
      if (records.length === 0) return Promise.resolve();
      if (records.length > capacity - depth()) {
        return Promise.reject(
          new TriadError(
            'RESOURCE_EXHAUSTED',
            records.length > capacity
              ? `a batch of ${records.length} operations is larger than the persistence queue (${capacity}): split it`
              : `persistence queue full: ${depth()} of ${capacity} operations wait for PostgreSQL, no room for ${records.length} more; none of them was accepted, retry later`,
          ),
        );
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ records: records.slice(), size: records.length, solo: false, resolve, reject });
        queued += records.length;
        depthChanged();
        if (!flushing) {
          flushing = true;
          void flushLoop();
        }
      });
    },
    depth,
    stats: () => ({ ...stats }),
    stop({ deadlineMs = 10_000 } = {}) {
      accepting = false;
      stopping ??= (async () => {
        const before = stats.committedRecords;
        const timer: { cancel?: () => void } = {};
        const deadline = new Promise<'deadline'>((resolve) => {
          timer.cancel = clock.timeout(deadlineMs, () => resolve('deadline'));
        });
        const outcome = await Promise.race([idle().then(() => 'idle' as const), deadline]);
        timer.cancel?.();
        let dropped = 0;
        if (outcome === 'deadline') {
          abandoned = true;
          abort.abort();
          const rest = queue.drain();
          dropped = rest.reduce((sum, p) => sum + p.size, 0);
          queued -= dropped;
          stats.abandonedRecords += dropped;
          rejectAll(rest, shutdownError('was not persisted before the shutdown deadline'));
          depthChanged();
        }
        const fields = {
          operation: 'operation_sink',
          flushed: stats.committedRecords - before,
          abandoned: dropped,
          in_flight: inFlight,
          deadline_ms: deadlineMs,
        };
        if (outcome === 'deadline') {
          log.warn(
            fields,
            'shutdown deadline passed: queued operations refused (never acknowledged); an insert still running settles its own',
          );
        } else {
          log.info(fields, 'operation sink stopped; everything acknowledged is persisted');
        }
      })();
      return stopping;
    },
  };
}

function shutdownError(what: string): TriadError {
  return new TriadError('STORAGE_UNAVAILABLE', `the batch ${what}: nothing of it was acknowledged; retry elsewhere`);
}

function unavailable(err: unknown): TriadError {
  if (err instanceof TriadError && err.code === 'STORAGE_UNAVAILABLE') return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TriadError('STORAGE_UNAVAILABLE', `cannot write operation_history: ${message}`, { cause: err });
}

function refusal(err: unknown, kind: 'data' | 'fatal'): TriadError {
  if (err instanceof TriadError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return kind === 'data'
    ? new TriadError('INPUT_INVALID', `operation_history refused the batch: ${message}`, { cause: err })
    : new TriadError('INTERNAL', `writing operation_history failed: ${message}`, { cause: err });
}
