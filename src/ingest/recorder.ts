import type { LayerId } from '../config/index.js';
import type { BucketParams, LiveState } from '../live-state/index.js';
import type { Cohort, OperationRecord, OperationSink } from '../runtime/index.js';
import type { Clock, Logger } from '../shared/index.js';
import { validateOperations, type IngestRules, type OperationInput } from './validate.js';

/** What became of one item of a batch. */
export interface ItemResult {
  index: number;
  accepted: boolean;
  /** Why it was refused (invalid or rate limited); absent when accepted. */
  reason?: string;
  operationId: string;
}

export interface RecordOutcome {
  results: ItemResult[];
  accepted: number;
  invalid: number;
  rateLimited: number;
}

export interface IngestDeps {
  sink: OperationSink;
  rules: IngestRules;
  /** Token buckets shared by the cluster (Redis) or this process: one bucket per framework, key `ingest:<id>`. */
  rateLimiter: Pick<LiveState, 'takeTokens'>;
  /** Each framework's bucket; one token per operation. */
  rateLimit: BucketParams;
  clock: Clock;
  log: Logger;
  /** After the accepted operations are committed, before the reply: the metrics hook. Errors are logged, not sent. */
  onRecorded?: (records: readonly OperationRecord[]) => void;
  /** `partial` while the operation's layer runs at < 100 % on its instance; null (unknown) when not given. */
  cohortOf?: (layer: LayerId, instance: string) => Cohort | null;
}

/**
 * validate every item → rate-limit the valid ones per framework → submit the accepted ones as one batch (committed
 * whole or not at all: RESOURCE_EXHAUSTED from the sink fails the call, nothing of it written) → onRecorded → reply.
 */
export function createRecorder(deps: IngestDeps) {
  const { sink, rules, clock, log } = deps;
  const limiter = createFrameworkLimiter(deps);
  return async (operations: readonly OperationInput[], callTraceId: string | null): Promise<RecordOutcome> => {
    const verdicts = validateOperations(operations, rules, { nowMs: clock.now(), callTraceId });
    const received = operations.length;
    const results: ItemResult[] = new Array<ItemResult>(verdicts.length);
    const valid: OperationRecord[] = [];
    const validIndexes: number[] = [];
    for (const v of verdicts) {
      if (v.accepted) {
        results[v.index] = { index: v.index, accepted: true, operationId: v.record.operationId };
        valid.push(v.record);
        validIndexes.push(v.index);
      } else {
        results[v.index] = { index: v.index, accepted: false, reason: v.reason, operationId: v.operationId };
      }
    }
    const refused = await limiter(valid, validIndexes);
    const accepted: OperationRecord[] = [];
    valid.forEach((record, i) => {
      const index = validIndexes[i]!;
      const reason = refused.get(index);
      if (reason === undefined) {
        accepted.push(deps.cohortOf ? { ...record, cohort: deps.cohortOf(record.layer, record.instance) } : record);
      } else {
        results[index] = { index, accepted: false, reason, operationId: record.operationId };
      }
    });
    const reply: RecordOutcome = {
      results,
      accepted: accepted.length,
      invalid: received - valid.length,
      rateLimited: refused.size,
    };
    if (accepted.length > 0) {
      await sink.submit(accepted);
      try {
        deps.onRecorded?.(accepted);
      } catch (err) {
        log.error({ err, operation: 'record_operations' }, 'onRecorded hook failed (operations are recorded)');
      }
    }
    log.debug(
      {
        operation: 'record_operations',
        received,
        accepted: reply.accepted,
        invalid: reply.invalid,
        rate_limited: reply.rateLimited,
      },
      'operations recorded',
    );
    return reply;
  };
}

/**
 * One token per operation, per framework: the limit reads as "operations per second", the unit operators reason in
 * (a per-call token would let one 5,000-item call through as cheaply as a 1-item one). A call's items of one framework
 * take their tokens in one atomic step (LiveState.takeTokens): the first `granted` items pass, the rest are refused
 * with when to retry. One round trip per framework per call, whatever the batch size.
 * When the limiter itself is unreachable (Redis down) the items pass: live state is a lossy optimisation (DESIGN §2),
 * and the sink's bounded queue still protects the node.
 */
function createFrameworkLimiter(deps: IngestDeps) {
  const { rateLimiter, rateLimit, log } = deps;
  let limiterDown = false;

  const limitGroup = async (frameworkId: string, indexes: number[], refused: Map<number, string>) => {
    const taken = await rateLimiter.takeTokens(`ingest:${frameworkId}`, rateLimit, indexes.length);
    // The k-th refused item gets its token k refill intervals after the first one comes back.
    for (let k = 0, next = taken.granted; next < indexes.length; k++, next++) {
      const waitMs = taken.retryAfterMs + Math.ceil((k * 1000) / rateLimit.refillPerSecond);
      refused.set(
        indexes[next]!,
        `rate limited: retry after ${waitMs} ms (framework ${frameworkId}: ${rateLimit.refillPerSecond} operations/s, burst ${rateLimit.capacity})`,
      );
    }
  };

  /** Rate limit reasons by item index, for the items refused. */
  return async (valid: readonly OperationRecord[], indexes: readonly number[]): Promise<Map<number, string>> => {
    const refused = new Map<number, string>();
    const groups = new Map<string, number[]>();
    valid.forEach((record, i) => {
      const group = groups.get(record.frameworkId);
      if (group) group.push(indexes[i]!);
      else groups.set(record.frameworkId, [indexes[i]!]);
    });
    try {
      await Promise.all([...groups].map(([frameworkId, indexes]) => limitGroup(frameworkId, indexes, refused)));
      if (limiterDown) log.info({ operation: 'record_operations' }, 'rate limiter reachable again');
      limiterDown = false;
    } catch (err) {
      if (!limiterDown) {
        log.warn({ err, operation: 'record_operations' }, 'rate limiter unavailable; letting operations through');
      }
      limiterDown = true;
      refused.clear();
    }
    return refused;
  };
}
