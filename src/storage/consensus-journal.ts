import type { Clock } from '../shared/index.js';
import type { Queryable, StorageLog } from './pool.js';
import { consensusMeasurementStore, type ConsensusMeasurementRow } from './stores/consensus-measurements.js';

export interface ConsensusJournalOptions {
  pool: Queryable;
  clock: Clock;
  log: StorageLog;
  /** At most one insert statement per this many ms; rows of epochs in between wait and go in one statement. Default 1 s. */
  minIntervalMs?: number;
}

export interface ConsensusJournal {
  /** Queues a row; never throws and never waits (epochs must not slow down for telemetry). */
  record(row: ConsensusMeasurementRow): void;
  /** Writes every queued row now and resolves once they are stored (or the write failed and was logged). */
  flush(): Promise<void>;
}

/**
 * Writes the initiator's epoch measurements to consensus_measurements. A lone epoch (the leader's, every 10 s) is
 * written at once; when epochs come faster (force-consensus-sync in a loop, a benchmark) their rows are coalesced
 * into one multi-row insert per `minIntervalMs`, because a statement per epoch cost the initiator about a millisecond
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
    try {
      await consensusMeasurementStore.insert(pool, rows);
    } catch (err) {
      log.warn({ operation: 'consensus_epoch', err, rows: rows.length }, 'could not record consensus measurements');
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
