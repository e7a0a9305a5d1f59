// triad.v1.Ingest messages between their wire form and the ingest component's.
import type { OperationInput, RecordOutcome } from '../ingest/index.js';
import type { RecordOperationsReply, WireOperation } from './ingest-messages.js';

/**
 * proto3 sends "" for an absent string: absent it is, for the validator to name. Numbers are checked as sent.
 * Plain assignments, not object spreads: this runs once per ingested operation, and ten spreads per item cost
 * ~8 µs each (a third of a node's ingest throughput, docs/benchmarks.md).
 */
export function fromWireOperation(w: Partial<WireOperation>): OperationInput {
  const input: OperationInput = {};
  if (w.operation_id) input.operationId = w.operation_id;
  if (w.framework_id) input.frameworkId = w.framework_id;
  if (w.layer) input.layer = w.layer;
  if (w.instance) input.instance = w.instance;
  if (w.started_at_ms !== undefined) input.startedAtMs = w.started_at_ms;
  if (w.duration_ms !== undefined) input.durationMs = w.duration_ms;
  if (w.burden_saved_hours !== undefined) input.burdenSavedHours = w.burden_saved_hours;
  if (w.success !== undefined) input.success = w.success;
  if (w.error_type) input.errorType = w.error_type;
  if (w.trace_id) input.traceId = w.trace_id;
  return input;
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
