import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { OperationInput, RecordOutcome } from '../../ingest/index.js';
import {
  fromWireOperation,
  toWireRecordReply,
  unaryHandler,
  type RecordOperationsReply,
  type RecordOperationsRequest,
} from '../../protocol/index.js';
import { callContext, type Logger } from '../../shared/index.js';

/** triad.v1.Ingest: operations reported by outside automation, answered item by item once durable. */
export function ingestService(deps: {
  log: Logger;
  record: (operations: readonly OperationInput[], callTraceId: string | null, client: string) => Promise<RecordOutcome>;
}): UntypedServiceImplementation {
  return {
    RecordOperations: unaryHandler<RecordOperationsRequest, RecordOperationsReply>(
      deps.log,
      'RecordOperations',
      async (request) => {
        const context = callContext.getStore();
        // The client's verified name (its certificate's), whose rate-limit bucket the batch draws on.
        const client = context?.caller ? `${context.caller.role}/${context.caller.name}` : 'local';
        return toWireRecordReply(
          await deps.record(request.operations.map(fromWireOperation), context?.trace_id ?? null, client),
        );
      },
    ),
  };
}
