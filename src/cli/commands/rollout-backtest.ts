import { formatDurationMs, parseDurationMs } from '../../config/index.js';
import {
  backtest,
  backtestExit,
  parsePlan,
  type BacktestResult,
  type HistoryEpoch,
  type OperationBucket,
  type SourceFile,
} from '../../rollouts/index.js';
import { createLogger, TriadError } from '../../shared/index.js';
import { createPool, describeTarget, type Queryable } from '../../storage/index.js';
import { loadCliConfig } from '../cluster-client.js';
import { optionalString, requireString, writeJson, type CliIO, type ParsedValues } from '../command.js';
import { formatTable } from '../table.js';
import { databaseUrlOf } from './database-url.js';

/**
 * `triad rollout backtest -f plan.yaml --from T1 --to T2`: reads PostgreSQL itself (like `audit verify`), so it needs
 * no node and changes nothing; the replay is src/rollouts/backtest.ts.
 */
export async function runBacktest(
  values: ParsedValues,
  io: CliIO,
  files: { plan: SourceFile; templates: SourceFile[] },
): Promise<number> {
  const config = loadCliConfig(values, io);
  const now = io.clock.now();
  const from = parseTime(requireString(values, 'from', 'rollout backtest'), '--from', now);
  const to = parseTime(optionalString(values, 'to') ?? 'now', '--to', now);
  if (to <= from) throw new TriadError('USAGE', `--to (${iso(to)}) must be after --from (${iso(from)})`);
  const members = config.cluster.instances.map((i) => i.name);
  // Bad input first (plan, times), then the database: a mistake never waits on a connection.
  const plan = parsePlan(files.plan, files.templates, members);
  const url = databaseUrlOf(values, config);
  if (!url)
    throw new TriadError(
      'USAGE',
      'no database to read: set DATABASE_URL, pass --database-url, or run it beside a running `triad up`',
    );
  const log = createLogger('cli', { level: 'warn', destination: io.stderr });
  const pool = createPool(url, { applicationName: 'triad-backtest', max: 1, log });
  try {
    // Epochs from a little before T1 too: the figures in force at T1 are the last epoch before it.
    const history = await readHistory(pool, from - config.timing.maxSampleAgeMs, to);
    const result = backtest({ plan, from, to, ...history, members, timing: config.timing });
    if (values.json)
      writeJson(io, { ...result, database: describeTarget(url), exitCode: backtestExit[result.outcome] });
    else io.stdout.write(render(result));
    return backtestExit[result.outcome];
  } finally {
    await pool.end();
  }
}

async function readHistory(
  db: Queryable,
  from: number,
  to: number,
): Promise<{ epochs: HistoryEpoch[]; operations: OperationBucket[] }> {
  const epochs = await db.query<{ at: Date; error: number; members: string[]; agreed: Record<string, number> }>(
    `SELECT measured_at AS at, error, members, agreed FROM consensus_measurements
      WHERE measured_at >= $1 AND measured_at <= $2 ORDER BY measured_at, id`,
    [new Date(from), new Date(to)],
  );
  // Per minute: a week of history is ten thousand rows, not every operation.
  const operations = await db.query<{ at: Date; operations: string; failed: string }>(
    `SELECT date_trunc('minute', started_at) AS at, count(*) AS operations, count(*) FILTER (WHERE NOT success) AS failed
       FROM operation_history WHERE started_at >= $1 AND started_at <= $2 GROUP BY 1 ORDER BY 1`,
    [new Date(from), new Date(to)],
  );
  return {
    epochs: epochs.rows.map((r) => ({ at: r.at.getTime(), error: r.error, members: r.members, agreed: r.agreed })),
    operations: operations.rows.map((r) => ({
      at: r.at.getTime(),
      operations: Number(r.operations),
      failed: Number(r.failed),
    })),
  };
}

/** ISO 8601 (`2025-05-01T12:00:00Z`), `now`, or relative to now (`-7d`, `-90m`). */
export function parseTime(text: string, flag: string, now: number): number {
  if (text === 'now') return now;
  if (text.startsWith('-')) {
    const ms = parseDurationMs(text.slice(1));
    if (ms !== undefined) return now - ms;
  } else if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw new TriadError(
    'USAGE',
    `${flag} expects an ISO 8601 time (2025-05-01T12:00:00Z), "now" or a time ago like -7d, received "${text}"`,
  );
}

function render(r: BacktestResult): string {
  const head = `backtest of ${r.plan} over ${iso(r.from)} … ${iso(r.to)} (${r.epochs} stored epochs): ${r.message}`;
  const rows = r.steps.map((s) => [
    String(s.index + 1),
    s.description,
    iso(s.startedAt),
    formatDurationMs(s.endedAt - s.startedAt),
    s.outcome,
    `${s.operations.total}/${s.operations.failed}`,
    s.note,
  ]);
  const measured = r.steps.flatMap((s) =>
    s.measurements.map((m) => [String(s.index + 1), iso(m.at), `${m.template}/${m.check}`, m.phase, m.detail]),
  );
  const notes =
    'pauses and approvals are taken as granted at once, activate steps as applied; PromQL checks are not replayed\n';
  return `${head}\n${formatTable(['STEP', 'WHAT', 'AT (UTC)', 'TOOK', 'OUTCOME', 'OPS/FAILED', 'NOTE'], rows)}${
    measured.length > 0 ? formatTable(['STEP', 'AT (UTC)', 'CHECK', 'PHASE', 'MEASURED'], measured) : ''
  }${notes}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
