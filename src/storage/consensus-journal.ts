import type { Clock } from '../shared/index.js';
import type { StorageLog } from './pool.js';

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

export interface ConsensusJournalOptions {
  pool: { query(text: string, values: unknown[]): Promise<unknown> };
  clock: Clock;
  log: StorageLog;
  /** At most one INSERT per this many ms; rows of epochs in between wait and go in one statement. Default 1 s. */
  minIntervalMs?: number;
}

export interface ConsensusJournal {
  /** Queues a row; never throws and never waits (epochs must not slow down for telemetry). */
  record(row: ConsensusMeasurementRow): void;
  /** Writes every queued row now and resolves once they are stored (or the write failed and was logged). */
  flush(): Promise<void>;
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

/**
 * Writes the initiator's epoch measurements to consensus_measurements. A lone epoch (the leader's, every 10 s) is
 * written at once; when epochs come faster (force-consensus-sync in a loop, a benchmark) their rows are coalesced
 * into one multi-row INSERT per `minIntervalMs`, because a statement per epoch cost the initiator about a millisecond
 * of CPU each and PostgreSQL half as much again — on the cores the next epoch needs. Rows are telemetry, written
 * after the outcome is published, exactly as before: a failed write is logged and dropped, not retried.
 */
export function createConsensusJournal(options: ConsensusJournalOptions): ConsensusJournal {
  const { pool, clock, log } = options;
  const minIntervalMs = options.minIntervalMs ?? 1_000;
  let pending: ConsensusMeasurementRow[] = [];
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  let writing: Promise<void> | undefined;
  let cancelTimer: (() => void) | undefined;

  const write = async (rows: ConsensusMeasurementRow[]): Promise<void> => {
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
      try {
        await pool.query(
          `INSERT INTO consensus_measurements (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`,
          values,
        );
      } catch (err) {
        log.warn({ operation: 'consensus_epoch', err, rows: batch.length }, 'could not record consensus measurements');
      }
    }
  };

  /** Takes everything queued and writes it; one write at a time, so rows land in the order epochs ended. */
  const drain = (): Promise<void> => {
    cancelTimer?.();
    cancelTimer = undefined;
    lastWriteAt = clock.monotonicMs();
    const rows = pending;
    pending = [];
    const current = (writing ?? Promise.resolve()).then(() => (rows.length > 0 ? write(rows) : undefined));
    writing = current;
    void current.then(() => {
      if (writing === current) writing = undefined;
    });
    return current;
  };

  return {
    record(row) {
      pending.push(row);
      if (cancelTimer) return; // a write is already due: this row goes with it
      const waitMs = lastWriteAt + minIntervalMs - clock.monotonicMs();
      if (waitMs <= 0) void drain();
      else cancelTimer = clock.timeout(waitMs, () => void drain());
    },
    flush: () => drain(),
  };
}
