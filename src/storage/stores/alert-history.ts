import type { Queryable } from '../pool.js';

/** One alert_history row: an alert or rollback trigger that fired, and what was done about it. */
export interface AlertRow {
  alert: string;
  severity: 'critical' | 'warning' | 'info';
  layer: string | null;
  instance: string | null;
  triggerId: string | null;
  value: number | null;
  threshold: number | null;
  action: string;
  details: Record<string, unknown>;
  firedAt: Date;
}

export interface AlertHistoryStore {
  insert(db: Queryable, rows: readonly AlertRow[]): Promise<void>;
  /** The newest `limit` rows, newest first (the console's alert history). */
  recent(db: Queryable, limit: number): Promise<AlertRow[]>;
}

export const alertHistoryStore: AlertHistoryStore = {
  async insert(db, rows) {
    for (const row of rows) {
      await db.query(
        `INSERT INTO alert_history (alert, severity, layer, instance, trigger_id, value, threshold, action, details, fired_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          row.alert,
          row.severity,
          row.layer,
          row.instance,
          row.triggerId,
          row.value,
          row.threshold,
          row.action,
          JSON.stringify(row.details),
          row.firedAt,
        ],
      );
    }
  },
  async recent(db, limit) {
    const { rows } = await db.query<{
      alert: string;
      severity: AlertRow['severity'];
      layer: string | null;
      instance: string | null;
      trigger_id: string | null;
      value: number | null;
      threshold: number | null;
      action: string;
      details: Record<string, unknown>;
      fired_at: Date;
    }>(
      `SELECT alert, severity, layer, instance, trigger_id, value, threshold, action, details, fired_at
         FROM alert_history ORDER BY fired_at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      alert: r.alert,
      severity: r.severity,
      layer: r.layer,
      instance: r.instance,
      triggerId: r.trigger_id,
      value: r.value === null ? null : Number(r.value),
      threshold: r.threshold === null ? null : Number(r.threshold),
      action: r.action,
      details: r.details,
      firedAt: r.fired_at,
    }));
  },
};
