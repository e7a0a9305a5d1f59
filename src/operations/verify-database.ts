import type pg from 'pg';
import { migrationStatus, rowCounts, versionsWithoutAudit, type AuditKey } from '../storage/index.js';
import { judgeMigrations, type CheckResult } from './checks.js';
import { verifyAudit } from './probes.js';

export interface DatabaseVerification {
  ok: boolean;
  checks: {
    id: 'migrations' | 'audit_chain' | 'versions_audited';
    status: CheckResult['status'];
    value: string;
    detail?: string;
  }[];
  rowCounts: Record<string, number>;
}

/** What `triad verify-database` checks after a restore (or any time): schema, audit chain, versions against audit. */
export async function verifyDatabase(pool: pg.Pool, key: AuditKey): Promise<DatabaseVerification> {
  const migrations = judgeMigrations(await migrationStatus(pool));
  const audit = await verifyAudit(pool, key);
  const unaudited = await versionsWithoutAudit(pool);
  const checks: DatabaseVerification['checks'] = [
    { ...migrations, id: 'migrations' },
    audit.ok
      ? { id: 'audit_chain', status: 'PASS', value: `${audit.rows} rows intact` }
      : { id: 'audit_chain', status: 'FAIL', value: `broken at row ${audit.brokenAt}`, detail: audit.reason },
    unaudited.length === 0
      ? { id: 'versions_audited', status: 'PASS', value: 'every version has its audit row' }
      : {
          id: 'versions_audited',
          status: 'FAIL',
          value: `${unaudited.length} without`,
          detail: `desired-state versions with no matching audit row: ${unaudited.join(', ')}`,
        },
  ];
  return { ok: checks.every((c) => c.status !== 'FAIL'), checks, rowCounts: await rowCounts(pool) };
}
