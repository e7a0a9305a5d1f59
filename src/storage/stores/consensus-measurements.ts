import type { Queryable } from '../pool.js';

/** One consensus_measurements row: what an epoch measured, as its initiator saw it. */
export interface ConsensusMeasurementRow {
  epoch_id: string;
  topology: string;
  members: string[];
  unreachable: string[];
  error: number;
  converged: boolean;
  rounds: number;
  duration_ms: number;
  /** null when the effective graph was disconnected (λ₂ = 0). */
  lambda2: number | null;
  /** The agreed vector by measurement key. */
  agreed: Record<string, number>;
  measured_at: Date;
}

export interface ConsensusMeasurementStore {
  /** One multi-row INSERT (split only past PostgreSQL's bind-parameter limit). */
  insert(db: Queryable, rows: readonly ConsensusMeasurementRow[]): Promise<void>;
}

const COLUMNS = [
  'epoch_id',
  'topology',
  'members',
  'unreachable',
  'error',
  'converged',
  'rounds',
  'duration_ms',
  'lambda2',
  'agreed',
  'measured_at',
] as const;

/** 11 parameters a row: 5,000 rows stay well under PostgreSQL's 65,535 bind parameters. */
const MAX_ROWS_PER_INSERT = 5_000;

export const consensusMeasurementStore: ConsensusMeasurementStore = {
  async insert(db, rows) {
    for (let start = 0; start < rows.length; start += MAX_ROWS_PER_INSERT) {
      const batch = rows.slice(start, start + MAX_ROWS_PER_INSERT);
      const values: unknown[] = [];
      const tuples = batch.map((row) => {
        const base = values.length;
        values.push(
          row.epoch_id,
          row.topology,
          row.members,
          row.unreachable,
          row.error,
          row.converged,
          row.rounds,
          row.duration_ms,
          row.lambda2,
          JSON.stringify(row.agreed),
          row.measured_at,
        );
        return `(${COLUMNS.map((_, i) => `$${base + i + 1}`).join(', ')})`;
      });
      await db.query(`INSERT INTO consensus_measurements (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values);
    }
  },
};
