import type { LayerId } from '../config/index.js';
import { createInProcessLiveState, type BucketParams, type LiveState } from '../live-state/index.js';
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
  /**
   * Token buckets shared by the cluster (Redis) or this process: one per framework (`ingest:<id>`) and one per client
   * identity (`ingest-client:<name>`).
   */
  rateLimiter: Pick<LiveState, 'takeTokens'>;
  /** Each framework's bucket; one token per operation. */
  rateLimit: BucketParams;
  /** Each client's bucket (default: the framework's): one client cannot use up a framework's budget for all. */
  clientRateLimit?: BucketParams;
  /** Used while rateLimiter is unreachable (default: a bucket set in this process). */
  fallbackRateLimiter?: Pick<LiveState, 'takeTokens'>;
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
  /** `client` is the caller's verified identity (its certificate's name): whose bucket the operations draw on. */
  return async (
    operations: readonly OperationInput[],
    callTraceId: string | null,
    client = 'local',
  ): Promise<RecordOutcome> => {
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
    const refused = await limiter(valid, validIndexes, client);
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
 * One token per operation, from the caller's bucket and then from its framework's: the limit reads as "operations per
 * second", the unit operators reason in (a per-call token would let one 5,000-item call through as cheaply as a
 * 1-item one). Each bucket is taken from in one atomic step (LiveState.takeTokens): the first `granted` items pass,
 * the rest are refused with when to retry. Tokens a client spent on items its framework then refuses are not given
 * back: a client that outruns a framework's limit slows down either way.
 * When the shared limiter is unreachable (Redis down) a bucket set in this process takes over: the limits then hold
 * per node rather than per cluster (N nodes let up to N times through), never unlimited.
 */
function createFrameworkLimiter(deps: IngestDeps) {
  const { rateLimit, log } = deps;
  const clientRateLimit = deps.clientRateLimit ?? rateLimit;
  const fallback = deps.fallbackRateLimiter ?? createInProcessLiveState();
  let limiterDown = false;

  /** Takes tokens for `indexes` from one bucket; refuses the rest into `refused`; returns the granted indexes. */
  const take = async (
    limiter: Pick<LiveState, 'takeTokens'>,
    key: string,
    params: BucketParams,
    what: string,
    indexes: number[],
    refused: Map<number, string>,
  ): Promise<number[]> => {
    const taken = await limiter.takeTokens(key, params, indexes.length);
    // The k-th refused item gets its token k refill intervals after the first one comes back.
    for (let k = 0, next = taken.granted; next < indexes.length; k++, next++) {
      const waitMs = taken.retryAfterMs + Math.ceil((k * 1000) / params.refillPerSecond);
      refused.set(
        indexes[next]!,
        `rate limited: retry after ${waitMs} ms (${what}: ${params.refillPerSecond} operations/s, burst ${params.capacity})`,
      );
    }
    return indexes.slice(0, taken.granted);
  };

  const limitWith = async (
    limiter: Pick<LiveState, 'takeTokens'>,
    valid: readonly OperationRecord[],
    indexes: readonly number[],
    client: string,
  ): Promise<Map<number, string>> => {
    const refused = new Map<number, string>();
    const passed = new Set(
      await take(limiter, `ingest-client:${client}`, clientRateLimit, `client ${client}`, [...indexes], refused),
    );
    const groups = new Map<string, number[]>();
    valid.forEach((record, i) => {
      const index = indexes[i]!;
      if (!passed.has(index)) return;
      const group = groups.get(record.frameworkId);
      if (group) group.push(index);
      else groups.set(record.frameworkId, [index]);
    });
    await Promise.all(
      [...groups].map(([frameworkId, group]) =>
        take(limiter, `ingest:${frameworkId}`, rateLimit, `framework ${frameworkId}`, group, refused),
      ),
    );
    return refused;
  };

  /** Rate limit reasons by item index, for the items refused. */
  return async (
    valid: readonly OperationRecord[],
    indexes: readonly number[],
    client: string,
  ): Promise<Map<number, string>> => {
    if (valid.length === 0) return new Map();
    try {
      const refused = await limitWith(deps.rateLimiter, valid, indexes, client);
      if (limiterDown) log.info({ operation: 'record_operations' }, 'rate limiter reachable again');
      limiterDown = false;
      return refused;
    } catch (err) {
      if (!limiterDown) {
        log.warn(
          { err, operation: 'record_operations' },
          'rate limiter unavailable; limiting with buckets in this process until it is back',
        );
      }
      limiterDown = true;
      return limitWith(fallback, valid, indexes, client);
    }
  };
}
