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
};
