import type pg from 'pg';
import { appendAudit, type AuditKey } from './stores/audit-log.js';
import type { Queryable } from './pool.js';

/** operation_history's daily partitions (migrations/004): operation_history_pYYYYMMDD, one UTC day each. */
const partitionName = /^operation_history_p(\d{4})(\d{2})(\d{2})$/;

/** The UTC day (ms at 00:00) a partition holds, from its name; undefined for the default partition or a stranger. */
export function partitionDay(name: string): number | undefined {
  const m = partitionName.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

export async function listOperationPartitions(pool: Queryable): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'operation_history'::regclass ORDER BY c.relname`,
  );
  return rows.map((r) => r.name);
}

/** Creates the partitions of the days from `fromMs` on, `days` of them; returns how many were new. */
export async function ensureOperationPartitions(pool: Queryable, fromMs: number, days: number): Promise<number> {
  const { rows } = await pool.query<{ created: boolean }>(
    `SELECT triad_ensure_operation_partition(($1::timestamptz AT TIME ZONE 'UTC')::date + g) AS created
       FROM generate_series(0, $2::int - 1) AS g`,
    [new Date(fromMs).toISOString(), days],
  );
  return rows.filter((r) => r.created).length;
}

/**
 * Drops the given partitions and deletes the default partition's rows started before `cutoffMs`, with one audit row
 * saying what was pruned, all in one transaction: pruning is an action on the record like any other (DESIGN §8).
 */
export async function pruneOperations(
  client: pg.ClientBase,
  partitions: readonly string[],
  cutoffMs: number,
  audit: { key: AuditKey; actor: string; correlationId: string; retention: string },
): Promise<{ dropped: string[]; deletedRows: number }> {
  for (const p of partitions) {
    if (!partitionName.test(p)) throw new Error(`refusing to drop ${p}: not a daily operation_history partition`);
    await client.query(`DROP TABLE "${p}"`);
  }
  const deleted = await client.query('DELETE FROM operation_history_default WHERE started_at < $1', [
    new Date(cutoffMs).toISOString(),
  ]);
  const deletedRows = deleted.rowCount ?? 0;
  if (partitions.length > 0 || deletedRows > 0) {
    await appendAudit(client, audit.key, {
      actor: audit.actor,
      command: 'retention prune operation_history',
      args: {
        dropped_partitions: [...partitions],
        deleted_rows: deletedRows,
        before: new Date(cutoffMs).toISOString(),
        retention: audit.retention,
      },
      correlation_id: audit.correlationId,
      outcome: 'applied',
    });
  }
  return { dropped: [...partitions], deletedRows };
}
