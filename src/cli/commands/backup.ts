import { statSync } from 'node:fs';
import path from 'node:path';
import { readAuditKey } from '../../certs/index.js';
import { verifyDatabase } from '../../operations/index.js';
import { TriadError } from '../../shared/index.js';
import {
  backupHistoryStore,
  checkBackupFile,
  createPool,
  describeTarget,
  dumpDatabase,
  restoreDatabase,
  type AuditKey,
  type StoragePool,
} from '../../storage/index.js';
import { loadCliConfig } from '../cluster-client.js';
import {
  configOption,
  jsonOption,
  optionalString,
  writeJson,
  type CliIO,
  type Command,
  type ParsedValues,
} from '../command.js';
import { formatTable } from '../table.js';
import { databaseUrlOf, databaseUrlOption } from './database-url.js';

/** The audit key of the cluster's config: the chain is verified here, with the key, not by asking a node. */
function auditKeyOf(values: ParsedValues, io: CliIO): AuditKey {
  return readAuditKey(loadCliConfig(values, io).auditKeyFile);
}

function requireDatabase(values: ParsedValues, io: CliIO, what: string): string {
  const url = databaseUrlOf(values, loadCliConfig(values, io));
  if (!url) {
    throw new TriadError(
      'USAGE',
      `no database to ${what}: pass --database-url, set DATABASE_URL, or run it beside the embedded engine of \`triad up\``,
    );
  }
  return url;
}

async function withPool<T>(url: string, name: string, fn: (pool: StoragePool) => Promise<T>): Promise<T> {
  const pool = createPool(url, { applicationName: name, max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

export const backupCommand: Command = {
  name: 'backup',
  usage: 'triad backup [--out <file>] [--json] [--database-url <url>]',
  options: {
    ...jsonOption,
    ...configOption,
    ...databaseUrlOption,
    out: {
      type: 'string',
      value: 'file',
      description: 'where to write it (default: triad-backup-<UTC time>.jsonl.gz)',
    },
  },
  examples: ['triad backup --out /var/backups/triad/$(date -u +%F).jsonl.gz', 'triad backup --json'],
  async run(values, _positionals, io) {
    const url = requireDatabase(values, io, 'back up');
    const stamp = new Date(io.clock.now()).toISOString().replace(/[:.]/g, '-');
    const file = path.resolve(io.cwd, optionalString(values, 'out') ?? `triad-backup-${stamp}.jsonl.gz`);
    const started = performance.now();
    const result = await withPool(url, 'triad-backup', async (pool) => {
      const client = await pool.connect();
      let dumped;
      try {
        dumped = await dumpDatabase(client, file);
      } finally {
        client.release();
      }
      const durationMs = performance.now() - started;
      await backupHistoryStore.record(pool, {
        takenAt: new Date(dumped.manifest.createdAt),
        file,
        bytes: dumped.bytes,
        sha256: dumped.sha256,
        rowCounts: dumped.rowCounts,
        auditHead: dumped.manifest.auditHead,
        durationMs,
      });
      return { ...dumped, durationMs };
    });
    const summary = {
      file,
      database: describeTarget(url),
      bytes: result.bytes,
      sha256: result.sha256,
      durationMs: Math.round(result.durationMs),
      auditHead: result.manifest.auditHead,
      rowCounts: result.rowCounts,
    };
    if (values.json) writeJson(io, summary);
    else {
      const rows = Object.values(result.rowCounts).reduce((a, b) => a + b, 0);
      io.stdout.write(
        `backup of ${summary.database} written to ${file}: ${rows} rows in ${Object.keys(result.rowCounts).length} tables, ` +
          `${result.bytes} bytes, ${summary.durationMs} ms, audit head ${result.manifest.auditHead ? `row ${result.manifest.auditHead.id}` : 'none'}\n`,
      );
    }
    return 0;
  },
};

export const restoreCommand: Command = {
  name: 'restore',
  usage: 'triad restore <file> [--database-url <url>] [--force --reason "…"] [--json]',
  options: {
    ...jsonOption,
    ...configOption,
    ...databaseUrlOption,
    force: { type: 'boolean', description: 'replace the contents of a non-empty database (needs --reason)' },
    reason: { type: 'string', value: 'text', description: 'why the contents are replaced (with --force)' },
  },
  positionals: [{ name: 'file', description: 'a file written by triad backup' }],
  examples: ['triad restore /var/backups/triad/2025-01-31.jsonl.gz --database-url postgres://triad@db2:5432/triad'],
  async run(values, positionals, io) {
    const file = positionals[0];
    if (!file) throw new TriadError('USAGE', "missing the backup file (see 'triad restore --help')");
    const force = values.force === true;
    const reason = optionalString(values, 'reason');
    if (force && !reason) throw new TriadError('USAGE', '--force replaces data: say why with --reason "…"');
    const url = requireDatabase(values, io, 'restore into');
    const full = path.resolve(io.cwd, file);
    try {
      statSync(full);
    } catch {
      throw new TriadError('NOT_FOUND', `no backup file at ${full}`);
    }
    const started = performance.now();
    const checked = await checkBackupFile(full);
    const outcome = await withPool(url, 'triad-restore', async (pool) => {
      const restored = await restoreDatabase(pool, full, checked, { force });
      return { restored, verification: await verifyDatabase(pool, auditKeyOf(values, io)) };
    });
    const durationMs = Math.round(performance.now() - started);
    if (values.json) {
      writeJson(io, {
        file: full,
        database: describeTarget(url),
        durationMs,
        forced: force,
        reason: reason ?? null,
        ...outcome,
      });
    } else {
      const rows = Object.values(outcome.restored.rowCounts).reduce((a, b) => a + b, 0);
      io.stdout.write(`restored ${rows} rows from ${full} into ${describeTarget(url)} in ${durationMs} ms\n`);
      io.stdout.write(renderVerification(outcome.verification));
    }
    if (!outcome.verification.ok) {
      throw new TriadError('DATABASE_INCONSISTENT', 'the restored database does not verify (see the checks above)');
    }
    return 0;
  },
};

function renderVerification(v: Awaited<ReturnType<typeof verifyDatabase>>): string {
  return `${formatTable(
    ['CHECK', 'STATUS', 'VALUE', 'DETAIL'],
    v.checks.map((c) => [c.id, c.status, c.value, c.detail ?? '']),
  )}\n${formatTable(
    ['TABLE', 'ROWS'],
    Object.entries(v.rowCounts).map(([t, n]) => [t, String(n)]),
  )}\n`;
}

export const verifyDatabaseCommand: Command = {
  name: 'verify-database',
  usage: 'triad verify-database [--json] [--database-url <url>]',
  options: { ...jsonOption, ...configOption, ...databaseUrlOption },
  examples: ['triad verify-database', 'triad verify-database --json --database-url postgres://triad@db:5432/triad'],
  async run(values, _positionals, io) {
    const url = requireDatabase(values, io, 'verify');
    const key = auditKeyOf(values, io);
    const verification = await withPool(url, 'triad-verify-database', (pool) => verifyDatabase(pool, key));
    if (values.json) writeJson(io, { database: describeTarget(url), ...verification });
    else io.stdout.write(renderVerification(verification));
    if (!verification.ok) {
      const failed = verification.checks.filter((c) => c.status === 'FAIL').map((c) => c.id);
      throw new TriadError('DATABASE_INCONSISTENT', `database does not verify: ${failed.join(', ')}`);
    }
    return 0;
  },
};
