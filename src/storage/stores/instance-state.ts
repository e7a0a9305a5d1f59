import type { Queryable } from '../pool.js';

/** instance_state: what each node last applied, for operators reading the database and for `triad status`. */
export interface InstanceStateStore {
  /** Best-effort bookkeeping: losing it on a crash costs nothing (nodes answer from memory), so no one waits for it. */
  recordApplied(db: Queryable, instance: string, version: number, at: number): Promise<void>;
}

export const instanceStateStore: InstanceStateStore = {
  async recordApplied(db, instance, version, at) {
    await db.query(
      `INSERT INTO instance_state (instance, applied_version, applied_at, heartbeat_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (instance) DO UPDATE SET applied_version = EXCLUDED.applied_version,
         applied_at = EXCLUDED.applied_at, heartbeat_at = EXCLUDED.heartbeat_at`,
      [instance, version, new Date(at)],
    );
  },
};
