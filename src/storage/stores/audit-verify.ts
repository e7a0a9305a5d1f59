import { createHmac } from 'node:crypto';
import { TriadError } from '../../shared/index.js';
import type { Queryable } from '../pool.js';
import { canonicalJson, genesisHash, rowHashMatches, type AuditKey, type AuditRow } from './audit-log.js';
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
      /** Versions created by legacy rows: they carry no content hash, see docs/security.md. */
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
        if (version !== undefined) legacyCreated.add(version);
      } else {
        keyedSeen = true;
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
  // Versions written before migration 003 are sealed only by the chain (docs/security.md, "Audit").
  const legacy = audit.find((a) => a.hash_alg === 'sha256' && rowHashMatches(key, a).ok);
  if (legacy) return { ok: true, legacy: true, auditRow: Number(legacy.id) };
  return { ok: false, reason: `version ${version} has no audit row that created it` };
}

/** The anchor of a verified chain, MAC'd with the key so a copy edited on its way is refused. */
export function anchorOf(key: AuditKey, head: { rows: number; id: number; hash: string }, at: Date): string {
  const fields = {
    format: anchorFormat,
    rows: head.rows,
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
    !Number.isSafeInteger(v.head_id) ||
    typeof v.head_hash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(v.head_hash) ||
    typeof v.at !== 'string' ||
    typeof v.mac !== 'string'
  ) {
    throw bad(
      `not a ${anchorFormat} anchor (fields format, rows, head_id, head_hash, at, mac), received "${line.slice(0, 80)}"`,
    );
  }
  const { mac, ...fields } = v;
  if (anchorMac(key, fields) !== mac)
    throw bad('the anchor does not verify with the audit key (edited, or another key)');
  return { rows: v.rows as number, headId: v.head_id as number, headHash: v.head_hash, at: v.at };
}
