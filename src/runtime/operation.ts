import type { LayerId } from '../config/index.js';

/** Kinds of failure an operation reports; a closed set because it becomes a metric label (error_type). */
export const errorTypes = ['timeout', 'dependency', 'validation', 'internal', 'injected'] as const;
export type ErrorType = (typeof errorTypes)[number];

/** `partial` while the operation's layer runs for fewer than 100 % of operation keys on its instance. */
export const cohorts = ['full', 'partial'] as const;
export type Cohort = (typeof cohorts)[number];

/** One framework operation, run here or reported by outside automation: a row of operation_history. */
export interface OperationRecord {
  /** Idempotency key (uuid): a retried batch never lands twice. */
  operationId: string;
  frameworkId: string;
  layer: LayerId;
  instance: string;
  /** ms since the epoch */
  startedAt: number;
  durationMs: number;
  burdenSavedHours: number;
  success: boolean;
  errorType: ErrorType | null;
  traceId: string | null;
  source: 'synthetic' | 'ingest';
  cohort: Cohort | null;
}

/**
 * Where operations go to become durable. submit() resolves only once every record is committed to operation_history
 * (DESIGN §7: acknowledged only once durable), and rejects with RESOURCE_EXHAUSTED, accepting none of them, when the
 * bounded queue cannot take the whole batch.
 */
export interface OperationSink {
  submit(records: readonly OperationRecord[]): Promise<void>;
  /** Records accepted and not yet committed (framework_operation_queue_depth). */
  depth(): number;
}
