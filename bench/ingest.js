// Durable ingest throughput of one node's ingest path (issue "Ingestion from outside automation"): operations
// acknowledged per second — acknowledged means committed to operation_history — with batches of 500 from several
// concurrent clients for ~10 s, and the peak RSS of the process doing the ingesting. Goals: ≥ 20,000 ops/s, ≤ 200 MB.
//
// The ingesting side is a child process (this file run with --serve): a grpc-js server with the Ingest handler, its
// rate limiter, the operation sink and a PostgreSQL pool — the ingest path a node runs — so its RSS is measured alone,
// sampled every 100 ms. The clients run here. Engines: the machine's PostgreSQL (a fresh database) and the embedded
// engine (`triad up` without DATABASE_URL); limiter: in process, and Redis when REDIS is reachable.
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describeVerdict, durabilityVerdict, exitCodeOf } from './durability.js';
import { connectTo, root, startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';

const self = fileURLToPath(import.meta.url);

// ---- the ingesting process -------------------------------------------------------------------------------------

async function serve() {
  const { parseLayersConfig } = await import('../dist/config/index.js');
  const { createOperationSink, createRecorder, ingestRules } = await import('../dist/ingest/index.js');
  const { createConnections, plaintextCredentials } = await import('../dist/connections/index.js');
  const { ingestService } = await import('../dist/edges/index.js');
  const { createInProcessLiveState, createRedisLiveState } = await import('../dist/live-state/index.js');
  const { createLogger, systemClock } = await import('../dist/shared/index.js');
  const { createPool } = await import('../dist/storage/index.js');

  let peakRss = process.memoryUsage().rss;
  let atPeak = process.memoryUsage();
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    if (usage.rss > peakRss) {
      peakRss = usage.rss;
      atPeak = usage;
    }
  }, 100);
  const log = createLogger('bench', { level: 'warn' });
  const layers = parseLayersConfig(readFileSync(path.join(root, 'config/layers.yaml'), 'utf8'), 'layers.yaml');
  // A node's pool for ingestion: the flusher uses one connection at a time.
  const pool = createPool(process.env.INGEST_DATABASE_URL, { applicationName: 'triad-bench-ingest', max: 2, log });
  const sink = createOperationSink({ pool, clock: systemClock, log });
  const limiter = process.env.INGEST_REDIS_URL
    ? createRedisLiveState(process.env.INGEST_REDIS_URL, {
        keyPrefix: `triad_bench_${randomBytes(4).toString('hex')}:`,
      })
    : createInProcessLiveState();
  let recorded = 0;
  // The Ingest edge a node serves, on a server made by the connection owner, as in a node.
  const connections = createConnections(plaintextCredentials());
  const server = connections.server({
    Ingest: ingestService({
      log,
      record: createRecorder({
        sink,
        rules: ingestRules(layers, ['alpha', 'beta', 'gamma']),
        rateLimiter: limiter,
        // Every operation takes a token, as in production; the bucket is large enough never to refuse here.
        rateLimit: { capacity: 1_000_000_000, refillPerSecond: 1_000_000_000 },
        clock: systemClock,
        log,
        onRecorded: (records) => (recorded += records.length),
      }),
    }),
  });
  const port = await connections.listen(server, '127.0.0.1', 0, 'bench');
  const idleRss = process.memoryUsage().rss;
  process.send({ type: 'ready', port, idleRss });
  process.on('message', async (message) => {
    if (message.type === 'report') {
      process.send({
        type: 'report',
        peakRss,
        atPeak,
        rss: process.memoryUsage().rss,
        depth: sink.depth(),
        recorded,
        stats: sink.stats(),
      });
    } else if (message.type === 'stop') {
      clearInterval(sampler);
      await new Promise((resolve) => server.tryShutdown(resolve));
      await sink.stop({ deadlineMs: 10_000 });
      await limiter.close();
      await pool.end();
      process.exit(0);
    }
  });
}

// ---- the clients ---------------------------------------------------------------------------------------------------

const batchSize = Number(process.env.BENCH_BATCH ?? 500);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 6);
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 10_000);
const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 2_000);
const frameworks = [
  'R1_SOVEREIGNTY_MEASUREMENT',
  'R1_BASELINE_BURDEN_TRACKING',
  'R2_CONSENT_AUTO_RESOLVER',
  'R2_TRIGGER_FRAMEWORK_BUILDER',
  'R3_TRIGGER_DETECTION',
  'R3_AUTO_COMPOSITION',
  'R4_HIERARCHICAL_COMPOSITION',
  'R4_FEEDBACK_COMPOSITION',
  'R5_CROSS_INSTANCE_D1',
  'R5_CROSS_INSTANCE_D2',
  'R6_STRATEGIC_ORCHESTRATION',
];
const instances = ['alpha', 'beta', 'gamma'];

function batch(n) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    operation_id: randomUUID(),
    framework_id: frameworks[i % frameworks.length],
    instance: instances[i % instances.length],
    started_at_ms: now - 1_000,
    duration_ms: 5 + (i % 50),
    burden_saved_hours: 0.25,
    success: i % 50 !== 0,
    error_type: i % 50 !== 0 ? '' : 'timeout',
    trace_id: '',
  }));
}

function request(child, type) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m.type === type) {
        child.off('message', onMessage);
        resolve(m);
      }
    };
    child.on('message', onMessage);
    if (type !== 'ready') child.send({ type });
  });
}

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** The figures every run reports, whatever it ran against. */
function loadFigures(engine, limiter, { acked, failures, callMs }) {
  return {
    engine,
    limiter,
    batchSize,
    concurrency,
    measuredMs: durationMs,
    acknowledgedOps: acked,
    opsPerSecond: Math.round(acked / (durationMs / 1000)),
    callMs: summarize(callMs),
    failures,
  };
}

/**
 * `concurrency` callers sending batches of `batchSize` until warm-up plus the measured window have passed; only calls
 * answered inside the window count. Every batch must be accepted whole (the limits are set out of the way). The ids
 * of every acknowledged operation, warm-up included, are kept for the durability check.
 */
async function load(recordOperations, client, label) {
  const measureFrom = performance.now() + warmupMs;
  const measureUntil = measureFrom + durationMs;
  const tally = { acked: 0, ackedIds: [], failures: 0, callMs: [] };
  const loop = async () => {
    while (performance.now() < measureUntil) {
      const ops = batch(batchSize);
      const t0 = performance.now();
      try {
        const reply = await recordOperations(client, ops, { deadlineMs: 30_000 });
        if (reply.accepted !== ops.length) throw new Error(`only ${reply.accepted} of ${ops.length} accepted`);
        const t1 = performance.now();
        for (const op of ops) tally.ackedIds.push(op.operation_id);
        if (t1 >= measureFrom && t1 <= measureUntil) {
          tally.acked += reply.accepted;
          tally.callMs.push(t1 - t0);
        }
      } catch (err) {
        if (++tally.failures === 1) console.error(`${label}: ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return tally;
}

/**
 * The rows operation_history holds for exactly the acknowledged ids, one entry per row (joined, so a row stored twice
 * would come back twice), read while the ingesting process still runs: acknowledged means committed already, not
 * once a shutdown has drained.
 */
async function storedIdsOf(databaseUrl, ackedIds) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query(
      'SELECT h.operation_id::text AS id FROM operation_history h JOIN unnest($1::uuid[]) AS a(id) ON h.operation_id = a.id',
      [[...new Set(ackedIds)]],
    );
    const total = Number((await db.query('SELECT count(*) AS n FROM operation_history')).rows[0].n);
    return { storedIds: rows.map((r) => r.id), rowsInTable: total };
  } finally {
    await db.end();
  }
}

async function measure(label, databaseUrl, redisUrl) {
  const { createConnections, plaintextCredentials, recordOperations } = await import('../dist/connections/index.js');
  const connections = createConnections(plaintextCredentials());
  const child = fork(self, ['--serve'], {
    env: { ...process.env, INGEST_DATABASE_URL: databaseUrl, INGEST_REDIS_URL: redisUrl ?? '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // V8 flags for the ingesting process only (e.g. BENCH_SERVER_FLAGS=--max-old-space-size=128), default none.
    execArgv: (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean),
  });
  const { port, idleRss } = await request(child, 'ready');
  const client = connections.client('Ingest', `127.0.0.1:${port}`);
  const { acked, ackedIds, failures, callMs } = await load(recordOperations, client, label);
  const report = await request(child, 'report');
  connections.close();
  const { storedIds, rowsInTable } = await storedIdsOf(databaseUrl, ackedIds);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  await exited;

  const result = {
    ...loadFigures(label, redisUrl ? 'redis' : 'in-process', { acked, failures, callMs }),
    durability: durabilityVerdict(ackedIds, storedIds),
    // The database is this run's alone: rows beyond the acknowledged ones would be calls that failed after commit.
    rowsInTable,
    statements: report.stats.committedBatches,
    meanRowsPerStatement: Math.round(report.stats.committedRecords / Math.max(1, report.stats.committedBatches)),
    idleRssMb: mb(idleRss),
    peakRssMb: mb(report.peakRss),
    atPeakMb: Object.fromEntries(Object.entries(report.atPeak).map(([k, v]) => [k, mb(v)])),
  };
  console.log(
    `${label.padEnd(16)} limiter ${result.limiter.padEnd(10)} ${String(result.opsPerSecond).padStart(6)} ops/s  ` +
      `(batch ${batchSize} × ${concurrency} in flight; call p50 ${result.callMs.p50} ms p99 ${result.callMs.p99} ms; ` +
      `${result.meanRowsPerStatement} rows/statement)  peak RSS ${result.peakRssMb} MB`,
  );
  console.log(`${''.padEnd(16)} ${describeVerdict(result.durability)}`);
  return result;
}

/**
 * The same load against a real `triad node` (alpha of a `triad up` cluster on the embedded engine): what a node
 * really does per operation on top of the handler — metrics, the window, a JSON log line — included. RSS is the
 * node's own, read from its /metrics (process_resident_memory_bytes) every 100 ms.
 */
async function measureNode() {
  const { recordOperations } = await import('../dist/connections/index.js');
  const cluster = await tempCluster(['alpha', 'beta', 'gamma'], 'ingest:\n  rate_limit: 1000000\n  burst: 1000000\n');
  const { up, databaseUrl } = await startUp(cluster);
  // An ingest client's certificate, as outside automation has (mutual TLS, the default).
  const connections = await connectTo(cluster, { role: 'ingest' });
  const metricsUrl = `http://127.0.0.1:${cluster.instances[0].httpPort}/metrics`;
  const rss = async () => {
    const text = await (await fetch(metricsUrl)).text();
    return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
  };
  const idleRss = await rss();
  let peakRss = idleRss;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, await rss().catch(() => 0));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const client = connections.client('Ingest', `127.0.0.1:${cluster.instances[0].grpcPort}`);
  const { acked, ackedIds, failures, callMs } = await load(recordOperations, client, 'triad-node');
  sampling = false;
  await sampler;
  connections.close();
  // The cluster's own database (embedded, owned by `triad up`), so only while it runs.
  const { storedIds, rowsInTable } = await storedIdsOf(databaseUrl, ackedIds);
  await stopProcess(up);
  cluster.cleanup();
  const result = {
    ...loadFigures('triad-node (embedded)', 'in-process', { acked, failures, callMs }),
    durability: durabilityVerdict(ackedIds, storedIds),
    rowsInTable,
    idleRssMb: mb(idleRss),
    peakRssMb: mb(peakRss),
  };
  console.log(
    `${'triad-node'.padEnd(16)} limiter in-process ${String(result.opsPerSecond).padStart(6)} ops/s  ` +
      `(batch ${batchSize} × ${concurrency} in flight; call p50 ${result.callMs.p50} ms p99 ${result.callMs.p99} ms; logs and metrics per operation)  peak RSS ${result.peakRssMb} MB`,
  );
  console.log(`${''.padEnd(16)} ${describeVerdict(result.durability)}`);
  return result;
}

async function main() {
  if (process.env.BENCH_NODE_ONLY) {
    const run = await measureNode();
    console.log(JSON.stringify(run));
    process.exitCode = exitCodeOf([run]);
    return;
  }
  const { migrate, createPool, startEmbeddedPostgres } = await import('../dist/storage/index.js');
  const serverUrl =
    process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const migrated = async (url) => {
    const pool = createPool(url, { applicationName: 'triad-bench-migrate' });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  };
  const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisUp = await fetchRedis(redisUrl);

  const results = [];
  // The machine's PostgreSQL: a fresh database per run, dropped afterwards.
  for (const limiter of redisUp ? [undefined, redisUrl] : [undefined]) {
    const name = `triad_bench_ingest_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    try {
      await migrated(url.toString());
      results.push(await measure('postgres-server', url.toString(), limiter));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }

  // The embedded engine, as `triad up` runs it without DATABASE_URL.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'triad-bench-ingest-'));
  chmodSync(dataDir, 0o755); // as root the embedded server runs as nobody and must enter the data dir
  const embedded = await startEmbeddedPostgres({ dataDir });
  try {
    await migrated(embedded.url);
    results.push(await measure('postgres-embedded', embedded.url, undefined));
  } finally {
    await embedded.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  results.push(await measureNode());

  const goal = { opsPerSecond: 20_000, peakRssMb: 200 };
  const file = writeResult('ingest', { goal, runs: results });
  console.log(`written to ${file}`);
  // The goal is docs/benchmarks.md's for one triad node; reported here, never an exit code (see exitCodeOf).
  const node = results.at(-1);
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  console.log(
    `goal for one triad node: ≥ ${goal.opsPerSecond} ops/s ${verdict(node.opsPerSecond >= goal.opsPerSecond)} ` +
      `(${node.opsPerSecond}), peak RSS ≤ ${goal.peakRssMb} MB ${verdict(node.peakRssMb <= goal.peakRssMb)} (${node.peakRssMb} MB)`,
  );
  const wrong = results.filter((r) => !r.durability.right || r.failures > 0);
  for (const r of wrong)
    console.error(`WRONG RUN ${r.engine}: ${describeVerdict(r.durability)}; ${r.failures} failed calls`);
  process.exitCode = exitCodeOf(results);
}

async function fetchRedis(url) {
  const { createConnection } = await import('node:net');
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection(Number(port || 6379), hostname);
    socket.setTimeout(1_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

if (process.argv[2] === '--serve') await serve();
else await main();
