import type { Client } from '@grpc/grpc-js';
import {
  callUnary,
  createServiceClient,
  type CallOptions,
  type RecordOperationsReply,
  type RecordOperationsRequest,
  type WireOperation,
} from '../protocol/index.js';

/** A triad.v1.Ingest client for host:port; reuse it for many calls, close() it when done. */
export function createIngestClient(address: string): Client {
  return createServiceClient<Client>('Ingest', address);
}

export interface RecordOperationsOptions {
  /** Default 30 s. */
  deadlineMs?: number;
  /** Trace and correlation ids sent as metadata (default: the current call context's). */
  context?: CallOptions['context'];
}

/**
 * Calls RecordOperations; resolves with the per-item reply, rejects with a TriadError carrying the server's code
 * (INPUT_INVALID, RESOURCE_EXHAUSTED, STORAGE_UNAVAILABLE …). Absent fields go as their proto3 defaults. Given an
 * address, opens a client for this call only.
 */
export async function recordOperations(
  target: string | Client,
  operations: readonly Partial<WireOperation>[],
  options: RecordOperationsOptions = {},
): Promise<RecordOperationsReply> {
  const client = typeof target === 'string' ? createIngestClient(target) : target;
  try {
    return await callUnary<RecordOperationsRequest, RecordOperationsReply>(
      client,
      'RecordOperations',
      { operations: operations as WireOperation[] },
      { deadlineMs: options.deadlineMs ?? 30_000, ...(options.context ? { context: options.context } : {}) },
    );
  } finally {
    if (typeof target === 'string') client.close();
  }
}
