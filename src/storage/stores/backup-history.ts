import type { Queryable } from '../pool.js';

/** One completed `triad backup`, as backup_history records it. */
export interface BackupRecord {
  takenAt: Date;
  file: string;
  bytes: number;
  sha256: string;
  rowCounts: Record<string, number>;
  auditHead: { id: number; hash: string } | null;
  durationMs: number;
}

export interface BackupHistoryStore {
  record(pool: Queryable, backup: BackupRecord): Promise<void>;
  /** The newest backup, or undefined when none was ever taken (or the table does not exist yet). */
  latest(pool: Queryable): Promise<BackupRecord | undefined>;
}

interface Row {
  taken_at: Date;
  file: string;
  bytes: string;
  sha256: string;
  row_counts: Record<string, number>;
  audit_head_id: string | null;
  audit_head_hash: string | null;
  duration_ms: number;
}

export const backupHistoryStore: BackupHistoryStore = {
  async record(pool, b) {
    await pool.query(
      `INSERT INTO backup_history (taken_at, file, bytes, sha256, row_counts, audit_head_id, audit_head_hash, duration_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        b.takenAt,
        b.file,
        b.bytes,
        b.sha256,
        JSON.stringify(b.rowCounts),
        b.auditHead?.id ?? null,
        b.auditHead?.hash ?? null,
        b.durationMs,
      ],
    );
  },
  async latest(pool) {
    const { rows: exists } = await pool.query<{ t: string | null }>(`SELECT to_regclass('backup_history')::text AS t`);
    if (!exists[0]?.t) return undefined;
    const { rows } = await pool.query<Row>('SELECT * FROM backup_history ORDER BY taken_at DESC, id DESC LIMIT 1');
    const r = rows[0];
    if (!r) return undefined;
    return {
      takenAt: r.taken_at,
      file: r.file,
      bytes: Number(r.bytes),
      sha256: r.sha256,
      rowCounts: r.row_counts,
      auditHead: r.audit_head_id === null ? null : { id: Number(r.audit_head_id), hash: r.audit_head_hash ?? '' },
      durationMs: r.duration_ms,
    };
  },
};
