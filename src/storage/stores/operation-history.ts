import type pg from 'pg';
import type { Queryable } from '../pool.js';

/** One operation_history row, as the runtime and ingest describe an operation (burden in hours, times in ms). */
export interface OperationRow {
  /** Idempotency key (uuid): a retried batch never lands twice. */
  operationId: string;
  frameworkId: string;
  layer: string;
  instance: string;
  startedAt: number;
  durationMs: number;
  burdenSavedHours: number;
  success: boolean;
  errorType: string | null;
  traceId: string | null;
  source: 'synthetic' | 'ingest';
  cohort: string | null;
}

/** Where the sink's batches go: one statement per call, so a batch commits whole or not at all. */
export interface OperationHistoryStore {
  /** Inserts the rows, skipping operation_ids already present; resolves with how many rows were new. */
  insert(records: readonly OperationRow[]): Promise<number>;
}

export interface OperationHistoryStoreOptions {
  /**
   * Client-side limit on one insert (default 35 s, just past the pool's 30 s statement_timeout): a server that went
   * silent without closing the connection would otherwise hold the batch until TCP keepalive gives up, minutes later.
   */
  queryTimeoutMs?: number;
}

/**
 * One multi-row INSERT per batch: twelve array parameters unnested into rows, whatever the batch size, so the
 * statement text never changes and is prepared once per connection. ON CONFLICT (operation_id, started_at) DO NOTHING
 * makes a retry after a lost acknowledgement (committed, but the answer never arrived) insert nothing twice (the table
 * is partitioned by started_at, so its unique key must include it: migrations/004 explains why that still catches
 * every retry); it also tolerates the same id twice within one statement, which DO UPDATE would not.
 */
const insertSql = `
INSERT INTO operation_history (operation_id, framework_id, layer, instance, started_at, duration_ms,
                               burden_saved_hours, success, error_type, trace_id, source, cohort)
SELECT id, framework, layer, instance, to_timestamp(started_ms / 1000), duration, burden, success, error_type, trace,
       source, cohort
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::boolean[],
              $9::text[], $10::text[], $11::text[], $12::text[])
       AS r(id, framework, layer, instance, started_ms, duration, burden, success, error_type, trace, source, cohort)
ON CONFLICT (operation_id, started_at) DO NOTHING`;

export function createOperationHistoryStore(
  pool: Queryable,
  options: OperationHistoryStoreOptions = {},
): OperationHistoryStore {
  const queryTimeoutMs = options.queryTimeoutMs ?? 35_000;
  return {
    async insert(records) {
      const query = {
        name: 'triad-ingest-operation-history',
        text: insertSql,
        values: [
          textArray(records, (r) => r.operationId),
          textArray(records, (r) => r.frameworkId),
          textArray(records, (r) => r.layer),
          textArray(records, (r) => r.instance),
          plainArray(records, (r) => r.startedAt),
          plainArray(records, (r) => r.durationMs),
          plainArray(records, (r) => r.burdenSavedHours),
          plainArray(records, (r) => r.success),
          textArray(records, (r) => r.errorType),
          textArray(records, (r) => r.traceId),
          textArray(records, (r) => r.source),
          textArray(records, (r) => r.cohort),
        ],
        // Not in @types/pg's QueryConfig, but honoured per query by pg.Client (lib/client.js).
        query_timeout: queryTimeoutMs,
      };
      const result = await pool.query(query as pg.QueryConfig);
      return result.rowCount ?? 0;
    },
  };
}

// Array literals are built here rather than by pg, which converts element by element into several strings each: at
// tens of thousands of operations a second that garbage keeps the young generation busy and the heap large.
// https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO

/** `{"a","b",NULL}`: every element quoted, so commas, braces and spaces inside values stay inside their element. */
function textArray(records: readonly OperationRow[], field: (r: OperationRow) => string | null): string {
  const values = new Array<string | null>(records.length);
  let plain = true;
  for (let i = 0; i < records.length; i++) {
    const value = field(records[i]!);
    values[i] = value;
    if (value === null || value.includes('"') || value.includes('\\')) plain = false;
  }
  // The common case, ids and names: one join, no string per element.
  if (plain) return records.length === 0 ? '{}' : `{"${values.join('","')}"}`;
  const parts = values.map((value) =>
    value === null
      ? 'NULL'
      : value.includes('"') || value.includes('\\')
        ? `"${value.replace(/["\\]/g, '\\$&')}"`
        : `"${value}"`,
  );
  return `{${parts.join(',')}}`;
}

/** Numbers (NaN and Infinity print as PostgreSQL reads them) and booleans: their text never needs quoting. */
function plainArray(records: readonly OperationRow[], field: (r: OperationRow) => number | boolean): string {
  const values = new Array<number | boolean>(records.length);
  for (let i = 0; i < records.length; i++) values[i] = field(records[i]!);
  return `{${values.join(',')}}`;
}

/** One operation as the canary judge sees it. */
export interface CohortOperation {
  durationMs: number;
  burdenSavedHours: number;
  success: boolean;
}

/**
 * The operations of `layer` on `instances` that started in [fromMs, toMs), newest first, at most `limit` of them
 * (the judge's samples; a bound so a busy hour cannot fill the heap). Served by the (layer, instance, started_at) index.
 */
export async function readCohortOperations(
  pool: Queryable,
  q: { layer: string; instances: readonly string[]; fromMs: number; toMs: number; limit: number },
): Promise<CohortOperation[]> {
  const result = await pool.query<{ duration_ms: number; burden_saved_hours: number; success: boolean }>(
    `SELECT duration_ms, burden_saved_hours, success FROM operation_history
      WHERE layer = $1 AND instance = ANY($2::text[])
        AND started_at >= to_timestamp($3::float8 / 1000) AND started_at < to_timestamp($4::float8 / 1000)
      ORDER BY started_at DESC LIMIT $5`,
    [q.layer, q.instances, q.fromMs, q.toMs, q.limit],
  );
  return result.rows.map((r) => ({
    durationMs: r.duration_ms,
    burdenSavedHours: r.burden_saved_hours,
    success: r.success,
  }));
}
