import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { projectRoot, TriadError } from '../shared/index.js';
import { lockKeys } from './locks.js';
import { StoragePool, unreachable, type StorageLog } from './pool.js';

/** Shipped with the package next to src/ and dist/, so one path works from both. */
export const migrationsDir = path.join(projectRoot, 'migrations');

const fileNamePattern = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: number;
  /** The file name, e.g. 001_initial.sql: what schema_migrations.name records and what errors name. */
  file: string;
  checksum: string;
  sql: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

export interface MigrationPlan {
  pending: MigrationFile[];
  alreadyApplied: MigrationFile[];
  /** Versions recorded in the database that this build has no file for (a newer triad migrated it). */
  unknown: AppliedMigration[];
}

export interface MigrationSummary {
  version: number;
  file: string;
}

export interface MigrateResult {
  applied: MigrationSummary[];
  alreadyApplied: MigrationSummary[];
}

export interface MigrateOptions {
  log?: StorageLog;
  /** Defaults to the shipped migrations/ folder; tests point it at a copy. */
  dir?: string;
}

/** `001_initial.sql` → { version: 1 }; undefined for a name that does not follow NNN_words.sql. */
export function parseMigrationFileName(file: string): { version: number } | undefined {
  const match = fileNamePattern.exec(file);
  return match ? { version: Number(match[1]) } : undefined;
}

export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** Every .sql file of dir in version order; a misnamed file or a repeated version is an error naming the files. */
export function readMigrations(dir: string = migrationsDir): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.sql'));
  } catch (err) {
    throw new TriadError('CONFIG_INVALID', `cannot read the migrations folder ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const files = names.map((file): MigrationFile => {
    const parsed = parseMigrationFileName(file);
    if (!parsed) {
      throw new TriadError(
        'CONFIG_INVALID',
        `${path.join(dir, file)}: migration files are named NNN_lower_case_words.sql (e.g. 002_add_index.sql)`,
      );
    }
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return { version: parsed.version, file, checksum: migrationChecksum(sql), sql };
  });
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    const [before, current] = [files[i - 1]!, files[i]!];
    if (before.version === current.version) {
      throw new TriadError(
        'CONFIG_INVALID',
        `${dir}: ${before.file} and ${current.file} share version ${current.version}; give each file its own number`,
      );
    }
  }
  return files;
}

/**
 * Splits files into pending and already applied. A file whose checksum differs from the one recorded when it ran is an
 * error: the database was built from different SQL than this build ships, and re-running cannot reconcile that.
 */
export function planMigrations(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): MigrationPlan {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const plan: MigrationPlan = { pending: [], alreadyApplied: [], unknown: [] };
  for (const file of files) {
    const recorded = byVersion.get(file.version);
    if (!recorded) {
      plan.pending.push(file);
      continue;
    }
    if (recorded.checksum !== file.checksum) {
      throw new TriadError(
        'CONFIG_INVALID',
        `migration ${file.file} changed after it was applied (as ${recorded.name}; checksum recorded ` +
          `${recorded.checksum.slice(0, 12)}…, file now ${file.checksum.slice(0, 12)}…): never edit an applied ` +
          'migration, add a new file instead',
      );
    }
    plan.alreadyApplied.push(file);
  }
  const known = new Set(files.map((f) => f.version));
  plan.unknown = applied.filter((a) => !known.has(a.version));
  return plan;
}

/**
 * Applies pending migrations in order, each in its own transaction, under a session advisory lock so that two
 * processes migrating at once (two nodes starting, or `triad migrate` beside `triad up`) take turns and the second
 * finds nothing left to do. Idempotent.
 */
const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * The pending migrations applied on a client already inside a transaction (`triad restore`): the schema appears with
 * the rows loaded after it, at one commit, so a node still running against the database never sees empty tables to
 * write into halfway through a restore. Returns how many were applied.
 */
export async function migrateInTransaction(client: pg.ClientBase, options: { dir?: string } = {}): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeys.migrations]);
  await client.query(createSchemaMigrations);
  const { rows } = await client.query<AppliedMigration>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  const plan = planMigrations(readMigrations(options.dir), rows);
  for (const file of plan.pending) {
    await client.query(file.sql);
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      file.version,
      file.file,
      file.checksum,
    ]);
  }
  return plan.pending.length;
}

export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const { log } = options;
  const target = pool instanceof StoragePool ? pool.target : 'PostgreSQL';
  const files = readMigrations(options.dir);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // Waiting for the lock, and a long migration, must not hit the pool's statement_timeout.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKeys.migrations]);
    await client.query(createSchemaMigrations);
    const { rows } = await client.query<AppliedMigration>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const plan = planMigrations(files, rows);
    if (plan.unknown.length > 0) {
      log?.warn(
        { operation: 'migrate', unknown: plan.unknown.map((u) => u.name) },
        'database has migrations this build does not ship (migrated by a newer triad?)',
      );
    }
    for (const file of plan.pending) {
      const started = performance.now();
      await applyOne(client, file, target);
      log?.info(
        { operation: 'migrate', migration: file.file, duration_ms: performance.now() - started },
        'migration applied',
      );
    }
    if (plan.pending.length === 0) {
      log?.info(
        { operation: 'migrate', already_applied: plan.alreadyApplied.length },
        'schema up to date: nothing to apply',
      );
    }
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKeys.migrations]);
    await client.query('RESET statement_timeout');
    return { applied: plan.pending.map(summary), alreadyApplied: plan.alreadyApplied.map(summary) };
  } catch (err) {
    // Closing the connection is what frees the session lock (and drops the SET) whatever state it was left in.
    broken = err instanceof Error ? err : new Error(String(err));
    throw err instanceof TriadError || err instanceof pg.DatabaseError ? err : unreachable(target, err);
  } finally {
    client.release(broken);
  }
}

async function applyOne(client: pg.PoolClient, file: MigrationFile, target: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(file.sql);
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      file.version,
      file.file,
      file.checksum,
    ]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    // Without a SQLSTATE the socket failed, not the SQL: the server is gone, and so is the transaction.
    if (!(err instanceof pg.DatabaseError)) throw unreachable(target, err);
    throw new TriadError(
      'INTERNAL',
      `migration ${file.file} failed and was rolled back (SQLSTATE ${err.code ?? '?'}): ${err.message}`,
      { cause: err },
    );
  }
}

function summary(file: MigrationFile): MigrationSummary {
  return { version: file.version, file: file.file };
}
