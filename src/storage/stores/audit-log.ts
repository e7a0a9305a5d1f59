import { createHash, createHmac, type KeyObject } from 'node:crypto';
import type pg from 'pg';
import { TriadError } from '../../shared/index.js';
import { lockKeys } from '../locks.js';

/** prev_hash of the first row: there is nothing before it. */
export const genesisHash = '0'.repeat(64);

/** One audit row as the caller describes it (DESIGN §2: every admin action is audited). */
export interface AuditEntry {
  /** Who the server verified (a certificate subject). */
  actor: string;
  /** Who the client says it acts for (its user@host), kept beside the actor. */
  on_behalf_of?: string | null;
  command: string;
  args: Record<string, unknown>;
  reason?: string | null;
  correlation_id: string;
  before_version?: number | null;
  after_version?: number | null;
  override?: boolean;
  outcome: string;
  undo_command?: string | null;
  /** sha256 of the desired-state version this row created (versionHash): seals the version into the chain. */
  version_hash?: string | null;
  /** Defaults to the database's clock, truncated to milliseconds so the hash survives the round trip through JS. */
  at?: Date;
}

/** The fields the hash covers, normalised exactly as they read back from PostgreSQL. */
export interface AuditHashInput {
  at: string;
  actor: string;
  /** Hashed only when set, so rows written before the column existed keep their hashes. */
  on_behalf_of?: string;
  command: string;
  args: unknown;
  reason: string | null;
  correlation_id: string;
  before_version: number | null;
  after_version: number | null;
  override: boolean;
  outcome: string;
  undo_command: string | null;
  /** Keyed rows only (rows before migration 003 never had it, and their hashes must still check out). */
  version_hash?: string | null;
  prev_hash: string;
}

/** How a row's hash was made: unkeyed SHA-256 before migration 003 ("legacy"), HMAC-SHA256 with the audit key since. */
export type HashAlg = 'sha256' | 'hmac-sha256';

export interface AuditRecord extends AuditHashInput {
  id: number;
  hash: string;
  hash_alg: HashAlg;
}

/**
 * The audit key: 32 random bytes kept outside the database (audit.key beside the certificates). A KeyObject, so it is
 * never printed or serialised by accident.
 */
export type AuditKey = KeyObject;

/**
 * JSON with object keys sorted by UTF-16 code unit at every depth, no whitespace, undefined members dropped (as
 * JSON.stringify and jsonb both drop them). Two equal values always give the same text, whatever order their keys were
 * built or stored in (jsonb reorders keys), which is what makes a hash over it reproducible.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TriadError('INPUT_INVALID', `cannot hash a non-finite number (${value})`);
      return JSON.stringify(value);
    case 'object': {
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TriadError('INPUT_INVALID', `cannot hash a value of type ${typeof value}`);
  }
}

/** sha256 (hex) over the canonical JSON of the row's fields, prev_hash included: the unkeyed hash of legacy rows. */
export function auditHash(input: AuditHashInput): string {
  return createHash('sha256').update(canonicalJson(input), 'utf8').digest('hex');
}

/** HMAC-SHA256 (hex) with the audit key over the same canonical JSON: without the key nobody can recompute it. */
export function auditMac(key: AuditKey, input: AuditHashInput): string {
  return createHmac('sha256', key).update(canonicalJson(input), 'utf8').digest('hex');
}

/**
 * Appends one keyed row to the chain inside the caller's transaction (so the audit row commits or rolls back with the
 * change it records). A transaction-scoped advisory lock serialises appenders until commit: `SELECT … ORDER BY id DESC
 * LIMIT 1 FOR UPDATE` alone would not do, because a second writer blocked on that row re-reads the same, now stale,
 * last row and forks the chain (and an empty table has no row to lock). Requires READ COMMITTED, so the read after the
 * lock sees the row the previous holder committed.
 */
export async function appendAudit(client: pg.ClientBase, key: AuditKey, entry: AuditEntry): Promise<AuditRecord> {
  if (client.getTransactionStatus() !== 'T') {
    throw new TriadError('INTERNAL', 'appendAudit needs a client inside BEGIN (use withTransaction)');
  }
  const { rows: locked } = await client.query<{ isolation: string; now: Date }>(
    `SELECT pg_advisory_xact_lock($1::bigint), current_setting('transaction_isolation') AS isolation,
            date_trunc('milliseconds', clock_timestamp()) AS now`,
    [lockKeys.auditLog],
  );
  const isolation = locked[0]?.isolation;
  if (isolation !== 'read committed') {
    throw new TriadError('INTERNAL', `appendAudit needs READ COMMITTED isolation, the transaction is ${isolation}`);
  }
  const { rows: last } = await client.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1');
  const at = entry.at ?? locked[0]?.now ?? new Date();
  const input: AuditHashInput = {
    at: at.toISOString(),
    actor: entry.actor,
    ...(entry.on_behalf_of ? { on_behalf_of: entry.on_behalf_of } : {}),
    command: entry.command,
    // Hash what jsonb will give back: the JSON round trip drops undefined and turns Dates into strings.
    args: JSON.parse(JSON.stringify(entry.args)) as unknown,
    reason: entry.reason ?? null,
    correlation_id: entry.correlation_id,
    before_version: entry.before_version ?? null,
    after_version: entry.after_version ?? null,
    override: entry.override ?? false,
    outcome: entry.outcome,
    undo_command: entry.undo_command ?? null,
    version_hash: entry.version_hash ?? null,
    prev_hash: last[0]?.hash ?? genesisHash,
  };
  const hash = auditMac(key, input);
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO audit_log (at, actor, command, args, reason, correlation_id, before_version, after_version, override,
                            outcome, undo_command, prev_hash, hash, on_behalf_of, version_hash, hash_alg)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'hmac-sha256') RETURNING id`,
    [
      input.at,
      input.actor,
      input.command,
      JSON.stringify(input.args),
      input.reason,
      input.correlation_id,
      input.before_version,
      input.after_version,
      input.override,
      input.outcome,
      input.undo_command,
      input.prev_hash,
      hash,
      input.on_behalf_of ?? null,
      input.version_hash,
    ],
  );
  return { ...input, id: Number(rows[0]?.id), hash, hash_alg: 'hmac-sha256' };
}

/** A row as PostgreSQL returns it. */
export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  on_behalf_of: string | null;
  command: string;
  args: unknown;
  reason: string | null;
  correlation_id: string;
  before_version: string | null;
  after_version: string | null;
  override: boolean;
  outcome: string;
  undo_command: string | null;
  version_hash: string | null;
  hash_alg: HashAlg;
  prev_hash: string;
  hash: string;
}

/** Whether one row's hash matches its contents: its MAC with the key, or (legacy rows) its SHA-256. */
export function rowHashMatches(key: AuditKey, row: AuditRow): { ok: boolean; computed: string } {
  const computed = row.hash_alg === 'sha256' ? auditHash(toHashInput(row)) : auditMac(key, toHashInput(row));
  return { ok: computed === row.hash, computed };
}

export function toHashInput(row: AuditRow): AuditHashInput {
  return {
    at: row.at.toISOString(),
    actor: row.actor,
    ...(row.on_behalf_of !== null ? { on_behalf_of: row.on_behalf_of } : {}),
    command: row.command,
    args: row.args,
    reason: row.reason,
    correlation_id: row.correlation_id,
    // pg returns bigint as text; the application writes JS numbers, and versions stay far below 2^53.
    before_version: row.before_version === null ? null : Number(row.before_version),
    after_version: row.after_version === null ? null : Number(row.after_version),
    override: row.override,
    outcome: row.outcome,
    undo_command: row.undo_command,
    // Legacy rows were hashed without the field; keyed rows always carry it (null when they created no version).
    ...(row.hash_alg === 'hmac-sha256' ? { version_hash: row.version_hash } : {}),
    prev_hash: row.prev_hash,
  };
}
