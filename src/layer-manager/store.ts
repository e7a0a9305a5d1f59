import type pg from 'pg';
import type { LayerId } from '../config/index.js';
import { TriadError } from '../shared/index.js';
import { emptyState, normaliseState, type DesiredState } from './desired-state.js';

/** One row of desired_state_versions: what insert() writes is what latest() and history() read back. */
export interface VersionRow {
  version: number;
  label: string | null;
  state: DesiredState;
  createdBy: string;
  command: string;
  reason: string | null;
  correlationId: string;
  /** ms; written from the injected clock, not the database's now(): gate windows compare it with the same clock. */
  createdAt: number;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

interface RawRow {
  version: string;
  label: string | null;
  state: unknown;
  created_by: string;
  command: string;
  reason: string | null;
  correlation_id: string;
  created_at: Date;
}

/** desired_state_versions: append-only, version 0 is the implicit empty state (DESIGN §2). */
export class DesiredStateStore {
  constructor(private readonly instances: readonly string[]) {}

  initial(): VersionRow {
    return {
      version: 0,
      label: null,
      state: emptyState(this.instances),
      createdBy: 'triad',
      command: 'initial',
      reason: null,
      correlationId: '',
      createdAt: 0,
    };
  }

  async latest(db: Queryable): Promise<VersionRow> {
    const { rows } = await db.query<RawRow>('SELECT * FROM desired_state_versions ORDER BY version DESC LIMIT 1');
    return rows[0] ? this.toRow(rows[0]) : this.initial();
  }

  async latestVersionNumber(db: Queryable): Promise<number> {
    const { rows } = await db.query<{ v: string | null }>('SELECT max(version) AS v FROM desired_state_versions');
    return Number(rows[0]?.v ?? 0);
  }

  async byVersion(db: Queryable, version: number): Promise<VersionRow | undefined> {
    if (version === 0) return this.initial();
    const { rows } = await db.query<RawRow>('SELECT * FROM desired_state_versions WHERE version = $1', [version]);
    return rows[0] ? this.toRow(rows[0]) : undefined;
  }

  async byLabel(db: Queryable, label: string): Promise<VersionRow | undefined> {
    const { rows } = await db.query<RawRow>('SELECT * FROM desired_state_versions WHERE label = $1', [label]);
    return rows[0] ? this.toRow(rows[0]) : undefined;
  }

  async insert(db: Queryable, v: VersionRow): Promise<void> {
    await db.query(
      `INSERT INTO desired_state_versions (version, label, state, created_by, command, reason, correlation_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        v.version,
        v.label,
        JSON.stringify(v.state),
        v.createdBy,
        v.command,
        v.reason,
        v.correlationId,
        new Date(v.createdAt),
      ],
    );
  }

  async history(db: Queryable, limit: number): Promise<VersionRow[]> {
    const { rows } = await db.query<RawRow>('SELECT * FROM desired_state_versions ORDER BY version DESC LIMIT $1', [
      limit,
    ]);
    return rows.map((r) => this.toRow(r));
  }

  /**
   * When `layer` became continuously active on `instance`: the first version after the newest one where it was off
   * (or emergency-disabled). A percentage change keeps it active. One aggregate per pair, no rows sent back.
   */
  async activeSince(db: Queryable, instance: string, layer: LayerId): Promise<number | undefined> {
    const { rows } = await db.query<{ since: Date | null }>(
      `WITH last_off AS (
         SELECT coalesce(max(version), 0) AS v FROM desired_state_versions
          WHERE coalesce((state->'instances'->$1->$2->>'enabled')::boolean, false) IS NOT TRUE
             OR coalesce((state->>'emergency_disabled')::boolean, false))
       SELECT min(created_at) AS since FROM desired_state_versions, last_off WHERE version > last_off.v`,
      [instance, layer],
    );
    return rows[0]?.since?.getTime();
  }

  /** Best-effort bookkeeping of what each node applied: losing it on a crash costs nothing, so no fsync wait. */
  async recordApplied(db: Queryable, instance: string, version: number, at: number): Promise<void> {
    await db.query(
      `INSERT INTO instance_state (instance, applied_version, applied_at, heartbeat_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (instance) DO UPDATE SET applied_version = EXCLUDED.applied_version,
         applied_at = EXCLUDED.applied_at, heartbeat_at = EXCLUDED.heartbeat_at`,
      [instance, version, new Date(at)],
    );
  }

  private toRow(r: RawRow): VersionRow {
    const version = Number(r.version);
    if (!Number.isSafeInteger(version)) throw new TriadError('INTERNAL', `version ${r.version} is not a safe integer`);
    return {
      version,
      label: r.label,
      state: normaliseState(r.state, this.instances),
      createdBy: r.created_by,
      command: r.command,
      reason: r.reason,
      correlationId: r.correlation_id,
      createdAt: r.created_at.getTime(),
    };
  }
}
