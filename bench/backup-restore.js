// Backup and restore time (issue 15): `triad backup`, `triad restore` (which runs verify-database after loading) and
// `triad verify-database` on a database holding ROWS rows of operation_history (default 1,000,000) spread over 30
// days of daily partitions, on the current schema (every migration applied), against the machine's PostgreSQL
// (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test, where it creates and drops its own databases).
// The figures are read against the operations plan's RPO 1 h / RTO 30 min. Runs the built CLI (npm run build first).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { root, triadBin, writeResult } from './lib.js';

const rows = Number(process.env.ROWS ?? 1_000_000);
const days = 30;
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin(sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs the CLI and returns wall time and user/system CPU of the child (from /proc-free process.resourceUsage). */
function timed(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [triadBin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`triad ${args[0]} exited ${code}: ${err || out}`));
      else resolve({ seconds: Math.round(seconds * 100) / 100, json: JSON.parse(out) });
    });
  });
}

const suffix = randomBytes(4).toString('hex');
const source = `triad_bench_backup_${suffix}`;
const target = `triad_bench_restore_${suffix}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'triad-bench-backup-'));
const file = path.join(dir, 'backup.jsonl.gz');
try {
  await admin(`CREATE DATABASE ${source}`);
  await admin(`CREATE DATABASE ${target}`);
  const sourceUrl = withDatabase(adminUrl, source);
  const targetUrl = withDatabase(adminUrl, target);
  const { createPool, migrate } = await import('../dist/storage/index.js');
  const pool = createPool(sourceUrl, { applicationName: 'triad-bench-backup', max: 1 });
  const fillStarted = performance.now();
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  // A plain client for the fill: the storage pool's statement timeout is meant for a node, not for this bulk insert.
  const fill = new pg.Client({ connectionString: sourceUrl });
  await fill.connect();
  try {
    await fill.query('SET statement_timeout = 0');
    // The last `days` days, a partition each (as the leader keeps them), then the rows spread evenly over them.
    await fill.query(
      `SELECT triad_ensure_operation_partition(((now() AT TIME ZONE 'UTC')::date - g)) FROM generate_series(0, $1) g`,
      [days],
    );
    await fill.query(
      `INSERT INTO operation_history (operation_id, framework_id, layer, instance, started_at, duration_ms,
                                      burden_saved_hours, success, error_type, trace_id, source, cohort)
       SELECT gen_random_uuid(), 'fw-' || (i % 40), 'R' || (1 + i % 6), (ARRAY['alpha','beta','gamma'])[1 + i % 3],
              now() - (i::double precision / $1 * $2) * interval '1 day', 5 + (i % 200) * 0.37, (i % 7) * 0.01,
              i % 50 <> 0, CASE WHEN i % 50 = 0 THEN 'timeout' END, md5(i::text), 'ingest', NULL
         FROM generate_series(1, $1) AS i`,
      [rows, days - 1],
    );
    await fill.query('ANALYZE');
  } finally {
    await fill.end();
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  console.log(`filled ${rows} rows in ${fillSeconds.toFixed(1)} s`);

  const backup = await timed(['backup', '--json', '--database-url', sourceUrl, '--out', file]);
  const bytes = statSync(file).size;
  console.log(`backup: ${backup.seconds} s, ${(bytes / 1e6).toFixed(1)} MB`);
  const restore = await timed(['restore', file, '--json', '--database-url', targetUrl]);
  console.log(`restore (with its verify-database): ${restore.seconds} s`);
  const verify = await timed(['verify-database', '--json', '--database-url', targetUrl]);
  console.log(`verify-database: ${verify.seconds} s`);
  const restored = restore.json.restored.rowCounts.operation_history;
  if (restored !== rows) throw new Error(`restored ${restored} operation_history rows, expected ${rows}`);

  const rpoSeconds = 3600;
  const rtoSeconds = 1800;
  const result = {
    rows,
    days,
    fileBytes: bytes,
    backupSeconds: backup.seconds,
    restoreSeconds: restore.seconds,
    verifySeconds: verify.seconds,
    // RPO: backups hourly lose at most an hour plus the time the backup takes to be complete on disk.
    rpo: { planSeconds: rpoSeconds, backupShareOfRpo: Math.round((backup.seconds / rpoSeconds) * 1000) / 1000 },
    // RTO: restore (load + verify) of the latest backup, against the plan's 30 min.
    rto: { planSeconds: rtoSeconds, restoreShareOfRto: Math.round((restore.seconds / rtoSeconds) * 1000) / 1000 },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`wrote ${writeResult('backup-restore', result)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await admin(`DROP DATABASE IF EXISTS ${source} WITH (FORCE)`).catch(() => undefined);
  await admin(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`).catch(() => undefined);
}
