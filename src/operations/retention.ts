import { randomUUID } from 'node:crypto';
import { repeatEvery, type Clock, type Logger } from '../shared/index.js';
import {
  ensureOperationPartitions,
  listOperationPartitions,
  partitionDay,
  pruneOperations,
  withTransaction,
  type AuditKey,
  type StoragePool,
} from '../storage/index.js';

const day = 86_400_000;

/** The operations plan keeps operational data 90 days; audit (never pruned here) and metrics a year. */
export interface RetentionPolicy {
  operationsMs: number;
  /** How often the leader runs it. */
  intervalMs: number;
  /** Daily partitions kept ready ahead of today, so inserts never fall into the default partition. */
  partitionsAheadDays: number;
}

export const defaultRetention: RetentionPolicy = {
  operationsMs: 90 * day,
  intervalMs: 3_600_000,
  partitionsAheadDays: 7,
};

/** The policy from cluster.yaml's `retention:` section (config/cluster.ts bounds it). */
export function retentionPolicy(settings: { operationsDays: number; intervalMs: number }): RetentionPolicy {
  return {
    operationsMs: settings.operationsDays * day,
    intervalMs: settings.intervalMs,
    partitionsAheadDays: defaultRetention.partitionsAheadDays,
  };
}

/**
 * Partitions wholly older than the retention: a day's partition goes once its END is past the cutoff, so nothing
 * younger than the retention is ever dropped (the plan's 90 days is a minimum, kept up to a day longer).
 */
export function expiredPartitions(names: readonly string[], nowMs: number, retentionMs: number): string[] {
  const cutoff = nowMs - retentionMs;
  return names.filter((n) => {
    const start = partitionDay(n);
    return start !== undefined && start + day <= cutoff;
  });
}

export interface RetentionDeps {
  pool: StoragePool;
  clock: Clock;
  log: Logger;
  self: string;
  isLeader: () => boolean;
  policy: RetentionPolicy;
  /** Keys the audit row each prune writes. */
  auditKey: AuditKey;
}

/** One pass: partitions ahead, then the expired ones dropped (audited). The leader's loop and tests call it. */
export async function runRetention(
  deps: Omit<RetentionDeps, 'isLeader'>,
): Promise<{ created: number; dropped: string[]; deletedRows: number }> {
  const now = deps.clock.now();
  const created = await ensureOperationPartitions(deps.pool, now, deps.policy.partitionsAheadDays + 1);
  const expired = expiredPartitions(await listOperationPartitions(deps.pool), now, deps.policy.operationsMs);
  const pruned = await withTransaction(deps.pool, (client) =>
    pruneOperations(client, expired, now - deps.policy.operationsMs, {
      key: deps.auditKey,
      actor: `node:${deps.self}`,
      correlationId: `retention-${randomUUID()}`,
      retention: `${Math.round(deps.policy.operationsMs / day)}d`,
    }),
  );
  if (created > 0 || pruned.dropped.length > 0 || pruned.deletedRows > 0) {
    deps.log.info(
      { operation: 'retention', created, dropped: pruned.dropped, deleted_rows: pruned.deletedRows },
      'retention applied',
    );
  }
  return { created, ...pruned };
}

/** The leader's schedule: every interval, only while this node leads (a new leader picks it up on its next tick). */
export function startRetention(deps: RetentionDeps): { stop(): Promise<void> } {
  const abort = new AbortController();
  const loop = repeatEvery(deps.clock, deps.policy.intervalMs, abort.signal, async () => {
    if (!deps.isLeader()) return;
    try {
      await runRetention(deps);
    } catch (err) {
      deps.log.warn({ operation: 'retention', err }, 'retention pass failed; retried next interval');
    }
  });
  return {
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
