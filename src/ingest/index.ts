export { backoffMs, classifyFailure, takeBatch } from './batching.js';
export type { FailureKind, RetryPolicy } from './batching.js';
export { createRecorder } from './recorder.js';
export type { IngestDeps, ItemResult, RecordOutcome } from './recorder.js';
export { createOperationSink } from './sink.js';
export type { OperationSinkHandle, OperationSinkOptions, SinkLog, SinkStats } from './sink.js';
export { defaultIngestLimits, ingestRules, validateOperations } from './validate.js';
export type { IngestLimits, IngestRules, ItemVerdict, OperationInput, ValidationContext } from './validate.js';
