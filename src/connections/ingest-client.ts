import type { Client } from '@grpc/grpc-js';
import {
  callUnary,
  type CallOptions,
  type RecordOperationsReply,
  type RecordOperationsRequest,
  type WireOperation,
} from '../protocol/index.js';
import { createConnections } from './connections.js';
import { plaintextCredentials } from './credentials.js';

export interface RecordOperationsOptions {
  /** Default 30 s. */
  deadlineMs?: number;
  /** Trace and correlation ids sent as metadata (default: the current call context's). */
  context?: CallOptions['context'];
}

/**
 * Calls RecordOperations for outside automation: resolves with the per-item reply, rejects with a TriadError carrying
 * the server's code (INPUT_INVALID, RESOURCE_EXHAUSTED, STORAGE_UNAVAILABLE …). Absent fields go as their proto3
 * defaults. Given an address rather than a client of a Connections, it connects for this call only.
 */
export async function recordOperations(
  target: string | Client,
  operations: readonly Partial<WireOperation>[],
  options: RecordOperationsOptions = {},
): Promise<RecordOperationsReply> {
  const own = typeof target === 'string' ? createConnections(plaintextCredentials()) : undefined;
  const client = own ? own.client('Ingest', target as string) : (target as Client);
  try {
    return await callUnary<RecordOperationsRequest, RecordOperationsReply>(
      client,
      'RecordOperations',
      { operations: operations as WireOperation[] },
      { deadlineMs: options.deadlineMs ?? 30_000, ...(options.context ? { context: options.context } : {}) },
    );
  } finally {
    own?.close();
  }
}
