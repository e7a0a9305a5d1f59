import type { Client } from '@grpc/grpc-js';
import {
  callUnary,
  type CallOptions,
  type RecordOperationsReply,
  type RecordOperationsRequest,
  type WireOperation,
} from '../protocol/index.js';

export interface RecordOperationsOptions {
  /** Default 30 s. */
  deadlineMs?: number;
  /** Trace and correlation ids sent as metadata (default: the current call context's). */
  context?: CallOptions['context'];
}

/**
 * Calls RecordOperations for outside automation, on an Ingest client of a Connections (made with an ingest
 * certificate): resolves with the per-item reply, rejects with a TriadError carrying the server's code
 * (INPUT_INVALID, RESOURCE_EXHAUSTED, STORAGE_UNAVAILABLE …). Absent fields go as their proto3 defaults.
 */
export function recordOperations(
  client: Client,
  operations: readonly Partial<WireOperation>[],
  options: RecordOperationsOptions = {},
): Promise<RecordOperationsReply> {
  return callUnary<RecordOperationsRequest, RecordOperationsReply>(
    client,
    'RecordOperations',
    { operations: operations as WireOperation[] },
    { deadlineMs: options.deadlineMs ?? 30_000, ...(options.context ? { context: options.context } : {}) },
  );
}
