import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import type pg from 'pg';
import { TriadError } from '../shared/index.js';
import { migrateInTransaction, readMigrations } from './migrate.js';

/**
 * triad's own logical backup: every table of the schema (not schema_migrations, which a restore rebuilds by running
 * the same migrations) read in ONE repeatable-read, read-only transaction, so all tables come from one snapshot, as
 * gzip'd JSON lines. Why not pg_dump: the embedded engine ships only initdb/pg_ctl/postgres, and a pg_dump must be at
 * least the server's major version — Debian 12's client is 15, the embedded server is 18. Rows as row_to_json text
 * and back through json_populate_recordset depend on neither, so one file restores into either engine.
 *
 * File: a manifest line, then per table a header line and one line per row, then a trailer with every table's row
 * count and the sha256 of all lines before it. A restore checks the trailer before it writes anything.
 */
export const backupFormat = 'triad-backup';
export const backupFormatVersion = 1;

export interface BackupManifest {
  format: typeof backupFormat;
  formatVersion: number;
  createdAt: string;
  serverVersion: string;
  migrations: { version: number; file: string; checksum: string }[];
  tables: string[];
  /** The audit chain's head in the snapshot: a restore must end on exactly this row. */
  auditHead: { id: number; hash: string } | null;
  /**
   * The days operation_history had partitions for (YYYYMMDD). A restore creates them before loading, so rows go
   * straight into their day instead of through the default partition and a second move. Absent in older backups.
   */
  operationDays?: string[];
}

export interface BackupResult {
  manifest: BackupManifest;
  rowCounts: Record<string, number>;
  bytes: number;
  sha256: string;
}

const fetchRows = 10_000;

async function userTables(client: pg.ClientBase): Promise<string[]> {
  // Partitions are read through their parent; schema_migrations is rebuilt by migrating.
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'schema_migrations'
      ORDER BY c.relname`,
  );
  return rows.map((r) => r.name);
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Writes the backup to `file`; `client` must be a dedicated connection (it holds one transaction throughout). */
export async function dumpDatabase(client: pg.ClientBase, file: string): Promise<BackupResult> {
  const gzip = createGzip({ level: 1 }); // level 1: most of the size win for a fraction of the CPU
  const out = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(out);
  const hash = createHash('sha256');
  // `text` is one line or several joined by \n; the hash covers each line and its \n, as checkBackupFile reads them.
  // Backpressure: wait for 'drain' when gzip's buffer is full, so memory stays at about one chunk.
  const write = async (text: string) => {
    const chunk = `${text}\n`;
    hash.update(chunk);
    if (!gzip.write(chunk)) await once(gzip, 'drain');
  };
  const rowCounts: Record<string, number> = {};
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const tables = await userTables(client);
    const { rows: info } = await client.query<{ version: string }>(
      `SELECT current_setting('server_version') AS version`,
    );
    const { rows: applied } = await client.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const { rows: head } = tables.includes('audit_log')
      ? await client.query<{ id: string; hash: string }>(
          'SELECT id::text, hash FROM audit_log ORDER BY id DESC LIMIT 1',
        )
      : { rows: [] };
    const { rows: days } = tables.includes('operation_history')
      ? await client.query<{ day: string }>(
          `SELECT substr(c.relname, 20) AS day FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'operation_history'::regclass AND c.relname ~ '^operation_history_p[0-9]{8}$'
            ORDER BY 1`,
        )
      : { rows: [] };
    const manifest: BackupManifest = {
      format: backupFormat,
      formatVersion: backupFormatVersion,
      createdAt: new Date().toISOString(),
      serverVersion: info[0]?.version ?? '?',
      migrations: applied.map((m) => ({ version: m.version, file: m.name, checksum: m.checksum })),
      tables,
      auditHead: head[0] ? { id: Number(head[0].id), hash: head[0].hash } : null,
      operationDays: days.map((d) => d.day),
    };
    await write(JSON.stringify(manifest));
    for (const table of tables) {
      await write(JSON.stringify({ table }));
      await client.query(
        `DECLARE triad_dump NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM ${quote(table)} t`,
      );
      let count = 0;
      for (;;) {
        const { rows } = await client.query<{ j: string }>(`FETCH ${fetchRows} FROM triad_dump`);
        // One chunk per FETCH, not one write per row: a write per row cost a zlib call and a hash update each
        // (84 s for 1,000,000 rows, a third of it system time); a chunk of 10,000 rows costs one of each.
        if (rows.length > 0) await write(rows.map((row) => row.j).join('\n'));
        count += rows.length;
        if (rows.length < fetchRows) break;
      }
      await client.query('CLOSE triad_dump');
      rowCounts[table] = count;
    }
    await client.query('COMMIT');
    const sha256 = hash.digest('hex');
    gzip.end(`${JSON.stringify({ trailer: true, rowCounts, sha256 })}\n`);
    await once(out, 'close');
    return { manifest, rowCounts, bytes: out.bytesWritten, sha256 };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    gzip.destroy();
    out.destroy();
    throw err;
  }
}

type Line =
  { kind: 'manifest'; manifest: BackupManifest } | { kind: 'table'; table: string } | { kind: 'row'; json: string };

/** Reads the file once to check it whole: format, trailer, checksum and row counts. Nothing is written. */
export async function checkBackupFile(
  file: string,
): Promise<{ manifest: BackupManifest; rowCounts: Record<string, number>; sha256: string }> {
  const hash = createHash('sha256');
  let manifest: BackupManifest | undefined;
  let trailer: { rowCounts: Record<string, number>; sha256: string } | undefined;
  const counted: Record<string, number> = {};
  let current: string | undefined;
  try {
    for await (const line of lines(file)) {
      if (trailer) throw new TriadError('BACKUP_INVALID', `${file}: data after the trailer`);
      if (manifest === undefined) {
        const parsed = JSON.parse(line) as Partial<BackupManifest>;
        if (parsed.format !== backupFormat || parsed.formatVersion !== backupFormatVersion) {
          throw new TriadError(
            'BACKUP_INVALID',
            `${file} is not a triad backup (format ${backupFormat} v${backupFormatVersion})`,
          );
        }
        manifest = parsed as BackupManifest;
      } else if (line.startsWith('{"trailer":')) {
        trailer = JSON.parse(line) as { rowCounts: Record<string, number>; sha256: string };
        continue;
      } else if (line.startsWith('{"table":')) {
        current = (JSON.parse(line) as { table: string }).table;
        counted[current] = 0;
      } else if (current !== undefined) {
        counted[current] = (counted[current] ?? 0) + 1;
      }
      hash.update(line).update('\n');
    }
  } catch (err) {
    if (err instanceof TriadError) throw err;
    throw new TriadError('BACKUP_INVALID', `${file} cannot be read as a triad backup: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!manifest || !trailer)
    throw new TriadError('BACKUP_INVALID', `${file} is truncated: no trailer (an interrupted backup?)`);
  const sha256 = hash.digest('hex');
  if (sha256 !== trailer.sha256) {
    throw new TriadError(
      'BACKUP_INVALID',
      `${file} is corrupt: sha256 ${sha256.slice(0, 12)}… ≠ ${trailer.sha256.slice(0, 12)}… recorded`,
    );
  }
  for (const table of manifest.tables) {
    if (counted[table] !== trailer.rowCounts[table]) {
      throw new TriadError(
        'BACKUP_INVALID',
        `${file}: ${table} has ${counted[table] ?? 0} rows, the trailer says ${trailer.rowCounts[table]}`,
      );
    }
  }
  return { manifest, rowCounts: trailer.rowCounts, sha256 };
}

async function* lines(file: string): AsyncGenerator<string> {
  const input = createReadStream(file).pipe(createGunzip());
  const reader = createInterface({ input, crlfDelay: Infinity });
  for await (const line of reader) if (line.length > 0) yield line;
}

async function* parsedLines(file: string): AsyncGenerator<Line> {
  let first = true;
  for await (const line of lines(file)) {
    if (first) {
      first = false;
      yield { kind: 'manifest', manifest: JSON.parse(line) as BackupManifest };
    } else if (line.startsWith('{"trailer":')) return;
    else if (line.startsWith('{"table":'))
      yield { kind: 'table', table: (JSON.parse(line) as { table: string }).table };
    else yield { kind: 'row', json: line };
  }
}

/** Tables of `names` that exist in the database and hold at least one row. */
export async function nonEmptyTables(client: pg.ClientBase, names: readonly string[]): Promise<string[]> {
  const existing = await userTables(client);
  const found: string[] = [];
  for (const t of names.filter((n) => existing.includes(n))) {
    const { rows } = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quote(t)}) AS any`);
    if (rows[0]?.any) found.push(t);
  }
  return found;
}

export interface RestoreOptions {
  /** Replace what a non-empty database holds (TRUNCATE in the restore's transaction) instead of refusing. */
  force?: boolean;
  migrationsDir?: string;
}

const insertRows = 10_000;

/**
 * Restores a checked backup: refuses a non-empty database (unless force) and a backup made at another migration level
 * than this build's, before writing anything; migrates the empty database; then loads every table, sets each sequence
 * past its column's maximum and checks the row counts and the audit head in ONE transaction, so a failure leaves the
 * database as it was (migrated, and empty).
 */
export async function restoreDatabase(
  pool: pg.Pool,
  file: string,
  checked: { manifest: BackupManifest; rowCounts: Record<string, number> },
  options: RestoreOptions = {},
): Promise<{ rowCounts: Record<string, number> }> {
  const { manifest } = checked;
  const shipped = readMigrations(options.migrationsDir).map((m) => `${m.version}:${m.checksum}`);
  const recorded = manifest.migrations.map((m) => `${m.version}:${m.checksum}`);
  if (shipped.join(',') !== recorded.join(',')) {
    throw new TriadError(
      'BACKUP_INVALID',
      `${file} was made at migration level ${manifest.migrations.map((m) => m.file).join(', ') || 'none'}; this triad ships ` +
        `${readMigrations(options.migrationsDir)
          .map((m) => m.file)
          .join(', ')}: restore with the triad version that made it, then run triad migrate`,
    );
  }
  const client = await pool.connect();
  try {
    const occupied = await nonEmptyTables(client, manifest.tables);
    if (occupied.length > 0 && !options.force) {
      throw new TriadError(
        'DATABASE_NOT_EMPTY',
        `the target database is not empty (${occupied.join(', ')} hold rows): restore into an empty database, or pass --force --reason "…" to replace its contents`,
      );
    }
  } finally {
    client.release();
  }
  const tx = await pool.connect();
  let broken: Error | undefined;
  try {
    await tx.query('SET statement_timeout = 0');
    await tx.query('BEGIN');
    await migrateInTransaction(tx, options.migrationsDir ? { dir: options.migrationsDir } : {});
    // Nodes may still run against this database: nothing of theirs lands between the check above and the commit,
    // and rows they wrote since that check (into an already migrated, empty database) are a refusal, not a merge.
    await tx.query(`LOCK TABLE ${manifest.tables.map(quote).join(', ')} IN ACCESS EXCLUSIVE MODE`);
    if (options.force) await tx.query(`TRUNCATE ${manifest.tables.map(quote).join(', ')}`);
    else {
      const written = await nonEmptyTables(tx, manifest.tables);
      if (written.length > 0) {
        throw new TriadError(
          'DATABASE_NOT_EMPTY',
          `rows were written to ${written.join(', ')} while the restore began: stop the nodes, or pass --force --reason "…"`,
        );
      }
    }
    const days = (manifest.operationDays ?? []).filter((d) => /^[0-9]{8}$/.test(d));
    if (days.length > 0) {
      await tx.query(`SELECT triad_ensure_operation_partition(to_date(d, 'YYYYMMDD')) FROM unnest($1::text[]) AS d`, [
        days,
      ]);
    }
    const loaded: Record<string, number> = {};
    let table: string | undefined;
    let batch: string[] = [];
    // One INSERT of `insertRows` rows through json_populate_recordset (the server parses the JSON; a per-row
    // json_populate_record costs ~4x more). One batch stays in flight while the next is read and joined, so reading
    // the file and the server's inserting overlap; awaiting the previous one first bounds memory to two batches.
    let inFlight: Promise<unknown> = Promise.resolve();
    const flush = async () => {
      if (!table || batch.length === 0) return;
      const sql = `INSERT INTO ${quote(table)} SELECT * FROM json_populate_recordset(NULL::${quote(table)}, $1::json)`;
      const payload = `[${batch.join(',')}]`;
      const target = table;
      const n = batch.length;
      batch = [];
      await inFlight;
      const sent = tx.query(sql, [payload]).then(() => {
        loaded[target] = (loaded[target] ?? 0) + n;
      });
      // Marked handled here; the rejection is still seen by whoever awaits `inFlight` next.
      sent.catch(() => undefined);
      inFlight = sent;
    };
    for await (const line of parsedLines(file)) {
      if (line.kind === 'table') {
        await flush();
        table = line.table;
        loaded[table] = 0;
      } else if (line.kind === 'row') {
        batch.push(line.json);
        if (batch.length >= insertRows) await flush();
      }
    }
    await flush();
    await inFlight;
    await resetSequences(tx);
    // Restored operations older than the daily partitions present land in the default partition: give them theirs.
    const { rows: fn } = await tx.query<{ f: string | null }>(
      `SELECT to_regproc('triad_ensure_operation_partition')::text AS f`,
    );
    if (fn[0]?.f) {
      await tx.query(
        `SELECT triad_ensure_operation_partition(d) FROM (SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date AS d FROM operation_history_default) AS days ORDER BY d`,
      );
    }
    for (const t of manifest.tables) {
      const { rows } = await tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quote(t)}`);
      if (Number(rows[0]?.n) !== checked.rowCounts[t]) {
        throw new TriadError(
          'DATABASE_INCONSISTENT',
          `restore of ${t}: ${rows[0]?.n} rows after loading, the backup has ${checked.rowCounts[t]}; rolled back`,
        );
      }
    }
    if (manifest.auditHead) {
      const { rows } = await tx.query<{ hash: string }>('SELECT hash FROM audit_log WHERE id = $1', [
        manifest.auditHead.id,
      ]);
      if (rows[0]?.hash !== manifest.auditHead.hash) {
        throw new TriadError(
          'DATABASE_INCONSISTENT',
          `restored audit_log does not end on the backup's head (row ${manifest.auditHead.id}); rolled back`,
        );
      }
    }
    await tx.query('COMMIT');
    return { rowCounts: loaded };
  } catch (err) {
    broken = err as Error;
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release(broken);
  }
}

/** Every sequence owned by a column continues after the largest value restored into it. */
async function resetSequences(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ seq: string; tbl: string; col: string }>(
    `SELECT s.relname AS seq, t.relname AS tbl, a.attname AS col
       FROM pg_class s
       JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = 'public'
       JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass
       JOIN pg_class t ON t.oid = d.refobjid
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
      WHERE s.relkind = 'S' AND NOT t.relispartition`,
  );
  for (const r of rows) {
    await client.query(
      `SELECT setval($1::regclass, COALESCE((SELECT max(${quote(r.col)}) FROM ${quote(r.tbl)}), 0) + 1, false)`,
      [quote(r.seq)],
    );
  }
}
