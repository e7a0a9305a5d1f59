import { createHash } from 'node:crypto';
import { TriadError } from '../../shared/index.js';
import type { Queryable } from '../pool.js';
import { canonicalJson } from './audit-log.js';

/** One row of desired_state_versions: what insert() writes is what latest() and history() read back. */
export interface VersionRow<State> {
  version: number;
  label: string | null;
  state: State;
  createdBy: string;
  /** Who the client said it acted for; null before certificates named the actor. */
  onBehalfOf: string | null;
  command: string;
  reason: string | null;
  correlationId: string;
  /** ms; written from the injected clock, not the database's now(): gate windows compare it with the same clock. */
  createdAt: number;
}

export interface DesiredStateVersionStore<State> {
  /** Version 0, the implicit state before any change (never stored). */
  initial(): VersionRow<State>;
  latest(db: Queryable): Promise<VersionRow<State>>;
  byVersion(db: Queryable, version: number): Promise<VersionRow<State> | undefined>;
  byLabel(db: Queryable, label: string): Promise<VersionRow<State> | undefined>;
  /** Resolves with the version's hash (versionHash of the row as stored), for the audit row that creates it. */
  insert(db: Queryable, row: VersionRow<State>): Promise<string>;
  /** Newest first. */
  history(db: Queryable, limit: number): Promise<VersionRow<State>[]>;
  /**
   * When `layer` became continuously enabled on `instance` (ms): the first version after the newest one where it was
   * off (or emergency-disabled). A percentage change keeps it enabled. Undefined while it is off.
   */
  activeSince(db: Queryable, instance: string, layer: string): Promise<number | undefined>;
}

/** A desired_state_versions row as PostgreSQL returns it. */
export interface RawVersionRow {
  version: string;
  label: string | null;
  state: unknown;
  created_by: string;
  on_behalf_of: string | null;
  command: string;
  reason: string | null;
  correlation_id: string;
  created_at: Date;
}

/**
 * desired_state_versions: append-only, version 0 is the implicit initial state (DESIGN §2). The state's shape belongs
 * to the layer manager: `decode` makes a stored value whole for the current cluster, `initial` is version 0's.
 */
export function createDesiredStateVersionStore<State>(shape: {
  decode: (raw: unknown) => State;
  initial: () => State;
}): DesiredStateVersionStore<State> {
  const toRow = (r: RawVersionRow): VersionRow<State> => {
    const version = Number(r.version);
    if (!Number.isSafeInteger(version)) throw new TriadError('INTERNAL', `version ${r.version} is not a safe integer`);
    return {
      version,
      label: r.label,
      state: shape.decode(r.state),
      createdBy: r.created_by,
      onBehalfOf: r.on_behalf_of,
      command: r.command,
      reason: r.reason,
      correlationId: r.correlation_id,
      createdAt: r.created_at.getTime(),
    };
  };
  const initial = (): VersionRow<State> => ({
    version: 0,
    label: null,
    state: shape.initial(),
    createdBy: 'triad',
    onBehalfOf: null,
    command: 'initial',
    reason: null,
    correlationId: '',
    createdAt: 0,
  });
  return {
    initial,
    async latest(db) {
      const { rows } = await db.query<RawVersionRow>(
        'SELECT * FROM desired_state_versions ORDER BY version DESC LIMIT 1',
      );
      return rows[0] ? toRow(rows[0]) : initial();
    },
    async byVersion(db, version) {
      if (version === 0) return initial();
      const { rows } = await db.query<RawVersionRow>('SELECT * FROM desired_state_versions WHERE version = $1', [
        version,
      ]);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    async byLabel(db, label) {
      const { rows } = await db.query<RawVersionRow>('SELECT * FROM desired_state_versions WHERE label = $1', [label]);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    async insert(db, v) {
      const raw: RawVersionRow = {
        version: String(v.version),
        label: v.label,
        // What jsonb gives back: the JSON round trip drops undefined members.
        state: JSON.parse(JSON.stringify(v.state)) as unknown,
        created_by: v.createdBy,
        on_behalf_of: v.onBehalfOf,
        command: v.command,
        reason: v.reason,
        correlation_id: v.correlationId,
        created_at: new Date(v.createdAt),
      };
      await db.query(
        `INSERT INTO desired_state_versions (version, label, state, created_by, on_behalf_of, command, reason,
                                             correlation_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          v.version,
          v.label,
          JSON.stringify(v.state),
          v.createdBy,
          v.onBehalfOf,
          v.command,
          v.reason,
          v.correlationId,
          raw.created_at,
        ],
      );
      return versionHash(raw);
    },
    async history(db, limit) {
      const { rows } = await db.query<RawVersionRow>(
        'SELECT * FROM desired_state_versions ORDER BY version DESC LIMIT $1',
        [limit],
      );
      return rows.map(toRow);
    },
    async activeSince(db, instance, layer) {
      // One aggregate per pair, no rows sent back.
      const { rows } = await db.query<{ since: Date | null }>(
        `WITH last_off AS (
           SELECT coalesce(max(version), 0) AS v FROM desired_state_versions
            WHERE coalesce((state->'instances'->$1->$2->>'enabled')::boolean, false) IS NOT TRUE
               OR coalesce((state->>'emergency_disabled')::boolean, false))
         SELECT min(created_at) AS since FROM desired_state_versions, last_off WHERE version > last_off.v`,
        [instance, layer],
      );
      return rows[0]?.since?.getTime();
    },
  };
}

/**
 * sha256 (hex) over the canonical JSON of a stored version: every column, so rewriting any of them (the state nodes
 * apply above all) changes it. The audit row that created the version carries it under its MAC (DESIGN §2).
 */
export function versionHash(r: RawVersionRow): string {
  const fields = {
    version: Number(r.version),
    label: r.label,
    state: r.state,
    created_by: r.created_by,
    on_behalf_of: r.on_behalf_of,
    command: r.command,
    reason: r.reason,
    correlation_id: r.correlation_id,
    // Written from JS milliseconds, so the microseconds PostgreSQL keeps are always zero and the ISO text round-trips.
    created_at: r.created_at.toISOString(),
  };
  return createHash('sha256').update(canonicalJson(fields), 'utf8').digest('hex');
}
