import type { Queryable } from './pool.js';
import { lockKeys } from './locks.js';
import { readMigrations } from './migrate.js';

/**
 * Read-only questions operators ask of the database before and after a change (`triad precheck`, `triad
 * verify-database`): engine-level statements, so they live here beside the migrations and locks they ask about.
 */
export interface MigrationStatus {
  /** Versions recorded in schema_migrations (empty when the table does not exist: an unmigrated database). */
  applied: number[];
  /** Files this build ships that the database has not run. */
  pending: string[];
  /** Recorded versions this build has no file for (migrated by a newer triad). */
  unknown: number[];
  /** Recorded files whose checksum differs from the file this build ships. */
  changed: string[];
}

export async function migrationStatus(pool: Queryable, dir?: string): Promise<MigrationStatus> {
  const files = readMigrations(dir);
  const { rows: exists } = await pool.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  const applied =
    exists[0]?.t === null || exists[0] === undefined
      ? []
      : (
          await pool.query<{ version: number; checksum: string }>(
            'SELECT version, checksum FROM schema_migrations ORDER BY version',
          )
        ).rows;
  const byVersion = new Map(applied.map((a) => [a.version, a.checksum]));
  const known = new Set(files.map((f) => f.version));
  return {
    applied: applied.map((a) => a.version),
    pending: files.filter((f) => !byVersion.has(f.version)).map((f) => f.file),
    unknown: applied.filter((a) => !known.has(a.version)).map((a) => a.version),
    changed: files
      .filter((f) => byVersion.has(f.version) && byVersion.get(f.version) !== f.checksum)
      .map((f) => f.file),
  };
}

/**
 * Whether some session holds the cluster deployment lock right now (an admin mutation in flight, or a stuck one).
 * A bigint advisory key shows in pg_locks split in two: its high 32 bits as classid, its low 32 bits as objid.
 */
export async function deploymentLockHolders(pool: Queryable): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(
    `SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid::bigint = ($1::bigint >> 32) & 4294967295 AND objid::bigint = $1::bigint & 4294967295`,
    [lockKeys.clusterDeployment],
  );
  return rows.map((r) => r.pid);
}

export interface OpenAlert {
  alert: string;
  severity: string;
  layer: string | null;
  instance: string | null;
  action: string | null;
  firedAt: Date;
}

/** alert_history rows not yet resolved: what is firing now (the partial index alert_history_open_idx serves this). */
export async function openAlerts(pool: Queryable): Promise<OpenAlert[]> {
  const { rows } = await pool.query<{
    alert: string;
    severity: string;
    layer: string | null;
    instance: string | null;
    action: string | null;
    fired_at: Date;
  }>(
    `SELECT alert, severity, layer, instance, action, fired_at FROM alert_history
      WHERE resolved_at IS NULL ORDER BY fired_at DESC LIMIT 100`,
  );
  return rows.map((r) => ({ ...r, firedAt: r.fired_at }));
}

/** The database's clock (ms since the epoch) and its server version: precheck compares the first, backup records the second. */
export async function serverFacts(pool: Queryable): Promise<{ nowMs: number; serverVersion: string; bytes: number }> {
  const { rows } = await pool.query<{ now: Date; version: string; bytes: string }>(
    `SELECT clock_timestamp() AS now, current_setting('server_version') AS version,
            pg_database_size(current_database())::text AS bytes`,
  );
  const row = rows[0]!;
  return { nowMs: row.now.getTime(), serverVersion: row.version, bytes: Number(row.bytes) };
}

/**
 * Desired-state versions with no audit row recording them (same version, command, actor and correlation id): each
 * version is written in one transaction with its audit row, so a version without one was written around triad.
 */
export async function versionsWithoutAudit(pool: Queryable): Promise<number[]> {
  const { rows } = await pool.query<{ version: string }>(
    `SELECT v.version::text FROM desired_state_versions v
      WHERE NOT EXISTS (SELECT 1 FROM audit_log a
                         WHERE a.after_version = v.version AND a.command = v.command AND a.actor = v.created_by
                           AND a.correlation_id = v.correlation_id)
      ORDER BY v.version`,
  );
  return rows.map((r) => Number(r.version));
}

/** Row count of every table of the schema (partitions through their parent). */
export async function rowCounts(pool: Queryable): Promise<Record<string, number>> {
  const { rows: tables } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${name.replace(/"/g, '""')}"`);
    counts[name] = Number(rows[0]?.n);
  }
  return counts;
}
