import type { SinkLog } from '../../../src/ingest/index.js';
import type { OperationRecord } from '../../../src/runtime/index.js';
import type { OperationHistoryStore, OperationRow } from '../../../src/storage/index.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A SinkLog that keeps what was logged. */
export function recordingLog(): SinkLog & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (fields: Record<string, unknown>, message = '') =>
      void lines.push({ level, fields, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Call {
  records: readonly OperationRow[];
  succeed(inserted?: number): void;
  fail(err: unknown): void;
}

/** An operation_history store the test answers by hand: each insert waits until the test settles it. */
export function scriptedWriter(): OperationHistoryStore & { calls: Call[]; pending(): Call[]; last(): Call } {
  const calls: (Call & { settled: boolean })[] = [];
  return {
    calls,
    pending: () => calls.filter((c) => !c.settled),
    last: () => {
      const call = calls.at(-1);
      if (!call) throw new Error('no insert was made');
      return call;
    },
    insert(records) {
      return new Promise<number>((resolve, reject) => {
        const call = {
          records,
          settled: false,
          succeed(inserted = records.length) {
            call.settled = true;
            resolve(inserted);
          },
          fail(err: unknown) {
            call.settled = true;
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        };
        calls.push(call);
      });
    },
  };
}

let counter = 0;

/** `n` distinct, valid records. */
export function records(n: number, over: Partial<OperationRecord> = {}): OperationRecord[] {
  return Array.from({ length: n }, () => {
    counter++;
    return {
      operationId: `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`,
      frameworkId: 'R2_CONSENT_AUTO_RESOLVER',
      layer: 'R2',
      instance: 'alpha',
      startedAt: Date.UTC(2026, 0, 1),
      durationMs: 12,
      burdenSavedHours: 0.25,
      success: true,
      errorType: null,
      traceId: null,
      source: 'ingest',
      cohort: null,
      ...over,
    };
  });
}

/** Lets queued promise continuations run (the sink hands off between awaits). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Tracks a promise's outcome without awaiting it. */
export function track<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (t.state = 'resolved'),
    (err: unknown) => {
      t.state = 'rejected';
      t.error = err;
    },
  );
  return t;
}
