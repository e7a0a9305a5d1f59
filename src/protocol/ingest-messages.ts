// TypeScript shapes of the triad.v1.Ingest messages as @grpc/proto-loader delivers them (keepCase, longs as numbers,
// defaults filled in: an absent string is "", an absent number 0).

/** One operation reported by outside automation (proto message triad.v1.Operation). */
export interface WireOperation {
  operation_id: string;
  framework_id: string;
  layer: string;
  instance: string;
  started_at_ms: number;
  duration_ms: number;
  burden_saved_hours: number;
  success: boolean;
  error_type: string;
  trace_id: string;
}

export interface RecordOperationsRequest {
  operations: WireOperation[];
}

export interface OperationResult {
  index: number;
  accepted: boolean;
  reason: string;
  operation_id: string;
}

export interface RecordOperationsReply {
  results: OperationResult[];
  accepted: number;
  invalid: number;
  rate_limited: number;
}
