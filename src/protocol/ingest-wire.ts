// triad.v1.Ingest messages between their wire form and the ingest component's.
import type { OperationInput, RecordOutcome } from '../ingest/index.js';
import type { RecordOperationsReply, WireOperation } from './ingest-messages.js';

/** proto3 sends "" for an absent string: absent it is, for the validator to name. Numbers are checked as sent. */
export function fromWireOperation(w: Partial<WireOperation>): OperationInput {
  const text = (value: string | undefined) => (value === undefined || value === '' ? {} : undefined);
  return {
    ...(text(w.operation_id) ?? { operationId: w.operation_id }),
    ...(text(w.framework_id) ?? { frameworkId: w.framework_id }),
    ...(text(w.layer) ?? { layer: w.layer }),
    ...(text(w.instance) ?? { instance: w.instance }),
    ...(w.started_at_ms !== undefined ? { startedAtMs: w.started_at_ms } : {}),
    ...(w.duration_ms !== undefined ? { durationMs: w.duration_ms } : {}),
    ...(w.burden_saved_hours !== undefined ? { burdenSavedHours: w.burden_saved_hours } : {}),
    ...(w.success !== undefined ? { success: w.success } : {}),
    ...(text(w.error_type) ?? { errorType: w.error_type }),
    ...(text(w.trace_id) ?? { traceId: w.trace_id }),
  };
}

export function toWireRecordReply(outcome: RecordOutcome): RecordOperationsReply {
  return {
    results: outcome.results.map((r) => ({
      index: r.index,
      accepted: r.accepted,
      reason: r.reason ?? '',
      operation_id: r.operationId,
    })),
    accepted: outcome.accepted,
    invalid: outcome.invalid,
    rate_limited: outcome.rateLimited,
  };
}
