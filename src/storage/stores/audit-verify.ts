import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { TriadError } from '../../shared/index.js';
import { lockKeys } from '../locks.js';
import { withTransaction, type Queryable } from '../pool.js';
import { appendAudit, canonicalJson, genesisHash, rowHashMatches, type AuditKey, type AuditRow } from './audit-log.js';
import { versionHash, type RawVersionRow } from './desired-state-versions.js';

/**
 * The head of the chain at one moment, kept outside the database by operators (`triad audit anchor`). The chain alone
 * cannot show rows removed from its end, or the whole table emptied; a copy of its head and length elsewhere can.
 */
export interface AuditAnchor {
  rows: number;
  /** 0 and the genesis hash when the log was empty. */
  headId: number;
  headHash: string;
  /** Rows from before migration 003 (unkeyed): no row past them may be unkeyed. */
  legacyRows: number;
  /** ISO time the anchor was taken. */
  at: string;
}

export type AuditVerification =
  | {
      ok: true;
      rows: number;
      /** Rows written before migration 003 (unkeyed SHA-256), sealed by the first keyed row after them. */
      legacyRows: number;
      versions: number;
      /** Versions created by legacy rows, checked against the hashes the seal row carries. */
      legacyVersions: number;
      head: { id: number; hash: string };
    }
  | {
      ok: false;
      /** Rows that checked out before the first problem. */
      rows: number;
      /** The first audit row that does not verify. */
      brokenAt?: number;
      /** The desired-state version that does not match its audit row (or has none). */
      version?: number;
      /** Rows the anchor counts that the database no longer has. */
      missingRows?: number;
      reason: string;
    };

/** Rows fetched per round trip: keyset pages keep memory flat however long the log grows. */
const pageSize = 1_000;

/**
 * Walks the chain in id order with the key: every link, every row's MAC (legacy rows' SHA-256), then the anchor's head
 * if one is given, then every desired-state version against the hash its audit row carries. Names the first problem.
 */
export async function verifyAudit(
  db: Queryable,
  key: AuditKey,
  options: { anchor?: AuditAnchor } = {},
): Promise<AuditVerification> {
  const anchor = options.anchor;
  let expectedPrev = genesisHash;
  let previousId: number | undefined;
  let checked = 0;
  let legacyRows = 0;
  let keyedSeen = false;
  let anchorSeen = anchor?.headId === 0;
  /** version → the keyed row that created it and the hash it carries; versions created by legacy rows. */
  const seals = new Map<number, { id: number; versionHash: string }>();
  const legacyCreated = new Set<number>();
  let legacySeal: { id: number; hashes: Record<string, unknown> } | undefined;
  let lastLegacyId: number | undefined;
  for (let afterId = '0'; ;) {
    const { rows } = await db.query<AuditRow>('SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2', [
      afterId,
      pageSize,
    ]);
    for (const row of rows) {
      const id = Number(row.id);
      const broken = (reason: string): AuditVerification => ({ ok: false, rows: checked, brokenAt: id, reason });
      if (row.prev_hash !== expectedPrev) {
        return broken(
          previousId === undefined
            ? `prev_hash is ${row.prev_hash.slice(0, 12)}… but the first row must chain from the genesis hash (earlier rows removed?)`
            : `prev_hash does not match the hash of row ${previousId} (a row between them removed or reordered?)`,
        );
      }
      if (row.hash_alg === 'sha256' && keyedSeen) {
        return broken(
          'an unkeyed (sha256) row after keyed rows: only rows written before migration 003 may be unkeyed',
        );
      }
      if (row.hash_alg === 'sha256' && anchor && legacyRows >= anchor.legacyRows) {
        return broken(
          `an unkeyed (sha256) row, but the anchor of ${anchor.at} counts ${anchor.legacyRows} unkeyed rows in all: rewritten as unkeyed`,
        );
      }
      const { ok, computed } = rowHashMatches(key, row);
      if (!ok) {
        return broken(
          `${row.hash_alg === 'sha256' ? 'hash' : 'HMAC'} does not match the row's contents (stored ${row.hash.slice(0, 12)}…, computed ${computed.slice(0, 12)}…): edited after it was written${row.hash_alg === 'sha256' ? '' : ', or the key is not the one it was written with'}`,
        );
      }
      if (anchor && id === anchor.headId) {
        if (row.hash !== anchor.headHash)
          return broken(`the anchor of ${anchor.at} names this row with hash ${anchor.headHash.slice(0, 12)}…`);
        if (checked + 1 !== anchor.rows)
          return broken(`the anchor counts ${anchor.rows} rows up to this one, the database has ${checked + 1}`);
        anchorSeen = true;
      }
      const version = row.after_version === null ? undefined : Number(row.after_version);
      if (row.hash_alg === 'sha256') {
        legacyRows++;
        lastLegacyId = id;
        if (version !== undefined) legacyCreated.add(version);
      } else {
        keyedSeen = true;
        if (row.command === sealCommand && legacySeal === undefined)
          legacySeal = { id, hashes: versionHashesOf(row.args) };
        if (version !== undefined && row.version_hash !== null)
          seals.set(version, { id, versionHash: row.version_hash });
      }
      expectedPrev = row.hash;
      previousId = id;
      checked++;
    }
    if (rows.length < pageSize) break;
    afterId = rows[rows.length - 1]!.id;
  }
  if (legacyRows > 0 && !keyedSeen) {
    return {
      ok: false,
      rows: checked,
      ...(lastLegacyId !== undefined ? { brokenAt: lastLegacyId } : {}),
      reason: `the ${legacyRows} unkeyed rows are not sealed by a keyed row: a node seals rows from before migration 003 when it starts; if one has started since the upgrade, keyed rows were rewritten as unkeyed`,
    };
  }
  if (anchor && !anchorSeen) {
    const missing = anchor.rows - checked;
    return {
      ok: false,
      rows: checked,
      missingRows: Math.max(missing, 0),
      reason:
        checked === 0
          ? `the audit log is empty but the anchor of ${anchor.at} counts ${anchor.rows} rows up to row ${anchor.headId}: all of them are missing`
          : `the anchor of ${anchor.at} counts ${anchor.rows} rows up to row ${anchor.headId}; the log ends at row ${previousId} after ${checked} rows: the tail after row ${previousId} is missing${missing > 0 ? ` (${missing} rows)` : ''}`,
    };
  }

  let versions = 0;
  let legacyVersions = 0;
  for (let after = '0'; ;) {
    const { rows } = await db.query<RawVersionRow>(
      'SELECT * FROM desired_state_versions WHERE version > $1 ORDER BY version LIMIT $2',
      [after, pageSize],
    );
    for (const row of rows) {
      const version = Number(row.version);
      const seal = seals.get(version);
      if (seal) {
        if (versionHash(row) !== seal.versionHash) {
          return {
            ok: false,
            rows: checked,
            version,
            brokenAt: seal.id,
            reason: `desired-state version ${version} does not match the hash its audit row ${seal.id} carries: the version was rewritten`,
          };
        }
      } else if (legacyCreated.has(version)) {
        if (legacySeal?.hashes[String(version)] !== versionHash(row)) {
          return {
            ok: false,
            rows: checked,
            version,
            ...(legacySeal ? { brokenAt: legacySeal.id } : {}),
            reason: `desired-state version ${version} (from before migration 003) does not match the hash the seal row ${legacySeal?.id ?? '(none)'} carries: the version was rewritten`,
          };
        }
        legacyVersions++;
      } else {
        return {
          ok: false,
          rows: checked,
          version,
          reason: `desired-state version ${version} has no audit row that created it: inserted outside triad`,
        };
      }
      versions++;
    }
    if (rows.length < pageSize) break;
    after = rows[rows.length - 1]!.version;
  }
  return {
    ok: true,
    rows: checked,
    legacyRows,
    versions,
    legacyVersions,
    head: { id: previousId ?? 0, hash: expectedPrev },
  };
}

export type VersionSeal = { ok: true; legacy: boolean; auditRow: number } | { ok: false; reason: string };

/**
 * What a node checks before it applies `version`: the keyed audit row that created it verifies under the key and
 * carries the hash of the version as stored now. Two indexed reads; the chain as a whole is `verifyAudit`'s job.
 */
export async function checkVersionSeal(db: Queryable, key: AuditKey, version: number): Promise<VersionSeal> {
  const { rows: stored } = await db.query<RawVersionRow>('SELECT * FROM desired_state_versions WHERE version = $1', [
    version,
  ]);
  const row = stored[0];
  if (!row) return { ok: false, reason: `version ${version} does not exist` };
  const { rows: audit } = await db.query<AuditRow>('SELECT * FROM audit_log WHERE after_version = $1 ORDER BY id', [
    version,
  ]);
  const keyed = audit.filter((a) => a.hash_alg === 'hmac-sha256' && a.version_hash !== null);
  if (keyed.length > 0) {
    const computed = versionHash(row);
    for (const a of keyed) {
      if (rowHashMatches(key, a).ok && a.version_hash === computed) {
        return { ok: true, legacy: false, auditRow: Number(a.id) };
      }
    }
    const first = keyed[0]!;
    return {
      ok: false,
      reason: rowHashMatches(key, first).ok
        ? `version ${version} does not match the hash its audit row ${first.id} carries (rewritten after it was written)`
        : `the audit row ${first.id} that created version ${version} does not verify with the audit key`,
    };
  }
  // A version from before migration 003: its hash is in the seal row every node writes on its first keyed start.
  if (!audit.some((a) => a.hash_alg === 'sha256'))
    return { ok: false, reason: `version ${version} has no audit row that created it` };
  const { rows: sealRows } = await db.query<AuditRow>(
    `SELECT * FROM audit_log WHERE command = $1 AND hash_alg = 'hmac-sha256' ORDER BY id LIMIT 1`,
    [sealCommand],
  );
  const seal = sealRows[0];
  if (!seal) return { ok: false, reason: `version ${version} predates the audit key and no seal row covers it yet` };
  if (!rowHashMatches(key, seal).ok)
    return { ok: false, reason: `the seal row ${seal.id} does not verify with the audit key` };
  if (versionHashesOf(seal.args)[String(version)] !== versionHash(row))
    return { ok: false, reason: `version ${version} does not match the hash the seal row ${seal.id} carries` };
  return { ok: true, legacy: true, auditRow: Number(seal.id) };
}

/** The command of the row that seals the rows and versions from before migration 003. */
export const sealCommand = 'triad audit seal';

function versionHashesOf(args: unknown): Record<string, unknown> {
  const hashes = (args as { version_hashes?: unknown } | null)?.version_hashes;
  return typeof hashes === 'object' && hashes !== null ? (hashes as Record<string, unknown>) : {};
}

/**
 * Upgrading a database from before migration 003: when the chain ends in unkeyed rows, appends one keyed row after
 * them that carries the hash of every desired-state version there is. Its MAC covers the last unkeyed hash, so the
 * old rows can no longer be rewritten unnoticed, and the versions they created get the check new ones have. Nodes
 * call it on start; concurrent callers take turns on the audit lock and only the first writes. Resolves with the
 * number of rows it sealed (0 when there was nothing to do).
 */
export async function sealLegacyRows(pool: pg.Pool, key: AuditKey): Promise<number> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeys.auditLog]);
    const { rows: last } = await client.query<{ hash_alg: string }>(
      'SELECT hash_alg FROM audit_log ORDER BY id DESC LIMIT 1',
    );
    if (last[0]?.hash_alg !== 'sha256') return 0;
    const { rows: counted } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE hash_alg = 'sha256'`,
    );
    const { rows: versions } = await client.query<RawVersionRow>(
      'SELECT * FROM desired_state_versions ORDER BY version',
    );
    const legacy = counted[0]?.n ?? 0;
    await appendAudit(client, key, {
      actor: 'triad',
      command: sealCommand,
      args: {
        legacy_rows: legacy,
        version_hashes: Object.fromEntries(versions.map((v) => [String(Number(v.version)), versionHash(v)])),
      },
      correlation_id: 'audit-seal',
      outcome: `sealed ${legacy} unkeyed rows and ${versions.length} versions`,
    });
    return legacy;
  });
}

/** The anchor of a verified chain, MAC'd with the key so a copy edited on its way is refused. */
export function anchorOf(
  key: AuditKey,
  head: { rows: number; legacyRows: number; id: number; hash: string },
  at: Date,
): string {
  const fields = {
    format: anchorFormat,
    rows: head.rows,
    legacy_rows: head.legacyRows,
    head_id: head.id,
    head_hash: head.hash,
    at: at.toISOString(),
  };
  return JSON.stringify({ ...fields, mac: anchorMac(key, fields) });
}

const anchorFormat = 'triad-audit-anchor/1';

function anchorMac(key: AuditKey, fields: object): string {
  return createHmac('sha256', key).update(canonicalJson(fields), 'utf8').digest('hex');
}

/**
 * Reads an anchor: the last non-empty line of `text`, so operators can append one anchor a day to a log file and pass
 * the whole file. Throws INPUT_INVALID naming `source` for anything else, or an anchor not made with this key.
 */
export function parseAnchor(key: AuditKey, text: string, source: string): AuditAnchor {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .at(-1);
  const bad = (why: string) => new TriadError('INPUT_INVALID', `${source}: ${why}`);
  if (line === undefined) throw bad('no anchor in the file (expected the JSON line `triad audit anchor` prints)');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw bad(
      `the last line is not JSON (expected the line \`triad audit anchor\` prints), received "${line.slice(0, 80)}"`,
    );
  }
  const v = value as Record<string, unknown>;
  if (
    typeof v !== 'object' ||
    v === null ||
    v.format !== anchorFormat ||
    !Number.isSafeInteger(v.rows) ||
    !Number.isSafeInteger(v.legacy_rows) ||
    !Number.isSafeInteger(v.head_id) ||
    typeof v.head_hash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(v.head_hash) ||
    typeof v.at !== 'string' ||
    typeof v.mac !== 'string'
  ) {
    throw bad(
      `not a ${anchorFormat} anchor (fields format, rows, legacy_rows, head_id, head_hash, at, mac), received "${line.slice(0, 80)}"`,
    );
  }
  const { mac, ...fields } = v;
  if (anchorMac(key, fields) !== mac)
    throw bad('the anchor does not verify with the audit key (edited, or another key)');
  return {
    rows: v.rows as number,
    legacyRows: v.legacy_rows as number,
    headId: v.head_id as number,
    headHash: v.head_hash,
    at: v.at,
  };
}
