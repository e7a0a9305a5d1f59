import { FaultCluster, timing } from './cluster.js';
import { checkHistory, type Verdict } from './checker.js';
import type { FaultWindow, History, LeaderSpan } from './history.js';
import { Workload } from './workload.js';

export const long = process.env.TRIAD_FAULTS_LONG === '1';

/** What a scenario does to the cluster while the workload runs; returns the fault windows it opened and healed. */
export type FaultScript = (ctx: ScenarioContext) => Promise<void>;

export interface ScenarioContext {
  cluster: FaultCluster;
  /** Opens a fault window now; the returned function heals it (idempotent) and closes the window. */
  window(fault: string, isolated: string[], heal: () => Promise<void> | void): () => Promise<void>;
  sleep(ms: number): Promise<void>;
  /** The node that leads now, by GetState polls (undefined when none does). */
  leader(): string | undefined;
  /** Seconds the fault holds: longer with TRIAD_FAULTS_LONG=1. */
  holdMs: number;
}

export interface ScenarioResult {
  scenario: string;
  nodes: number;
  faults: string;
  verdict: Verdict;
  durationMs: number;
  mutationsUnknown: number;
  ingestUnknown: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one scenario start to end: a fresh cluster, the workload for a warm-up, the fault script, a quiet period after
 * the heal for convergence, then the history read back from PostgreSQL and the logs, checked. Every fault is undone
 * in `finally` (the network by deleting its namespaces), also when the script throws.
 */
export interface ScenarioOptions {
  cluster?: { extraYaml?: string; env?: Record<string, string> };
  workload?: { operators?: number };
  /** Runs once every node is ready, before the workload starts (e.g. layers to activate). */
  prepare?: (cluster: FaultCluster) => Promise<void>;
}

export async function runScenario(
  name: string,
  nodes: readonly string[],
  faults: string,
  script: FaultScript,
  options: ScenarioOptions = {},
): Promise<ScenarioResult> {
  const started = Date.now();
  const cluster = await FaultCluster.start(nodes, options.cluster);
  const windows: FaultWindow[] = [];
  const heals: (() => Promise<void>)[] = [];
  const workload = new Workload(cluster);
  try {
    workload.startPolling();
    await waitUntil(() => nodes.every((n) => lastPoll(workload, n)?.ready === true), 45_000, 'every node ready');
    await options.prepare?.(cluster);
    workload.start(options.workload);
    await sleep(3_000);
    const ctx: ScenarioContext = {
      cluster,
      holdMs: long ? 20_000 : 5_000,
      sleep,
      leader: () => nodes.find((n) => lastPoll(workload, n)?.leader === true),
      window(fault, isolated, heal) {
        const w: FaultWindow = { fault, startMs: Date.now(), healMs: Number.POSITIVE_INFINITY, isolated };
        windows.push(w);
        let healed = false;
        const undo = async () => {
          if (healed) return;
          healed = true;
          await heal();
          w.healMs = Date.now();
        };
        heals.push(undo);
        return undo;
      },
    };
    await script(ctx);
    for (const undo of heals) await undo();
    // The load runs on across the heal, then stops; the poller watches the cluster settle on the last version.
    await sleep(long ? 10_000 : 3_000);
    await workload.stopLoad();
    await sleep(long ? 10_000 : 5_000);
    await workload.stop();
    const history = await readHistory(cluster, workload, windows);
    const verdict = checkHistory(history);
    return {
      scenario: name,
      nodes: nodes.length,
      faults,
      verdict,
      durationMs: Date.now() - started,
      mutationsUnknown: workload.mutations.filter((m) => m.outcome === 'unknown').length,
      ingestUnknown: workload.ingests.filter((c) => c.outcome === 'unknown').length,
    };
  } finally {
    for (const undo of heals) await undo().catch(() => undefined);
    await workload.stop().catch(() => undefined);
    await cluster.stop();
  }
}

function lastPoll(w: Workload, node: string) {
  for (let i = w.polls.length - 1; i >= 0; i--)
    if (w.polls[i]!.node === node && w.polls[i]!.answered) return w.polls[i];
  return undefined;
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function readHistory(cluster: FaultCluster, workload: Workload, faults: FaultWindow[]): Promise<History> {
  const pool = cluster.database.pool;
  const versions = await pool.query<{ version: string; correlation_id: string }>(
    'SELECT version, correlation_id FROM desired_state_versions',
  );
  const audit = await pool.query<{
    correlation_id: string;
    before_version: string | null;
    after_version: string | null;
  }>(
    'SELECT correlation_id, before_version, after_version FROM audit_log WHERE after_version IS NOT NULL AND after_version <> coalesce(before_version, 0) ORDER BY id',
  );
  const epochs = await pool.query<{ epoch_id: string; measured_at: Date }>(
    'SELECT epoch_id, measured_at FROM consensus_measurements',
  );
  const ids = workload.ingests.flatMap((c) => c.operationIds);
  const stored = await pool.query<{ operation_id: string; n: string }>(
    'SELECT operation_id::text, count(*) AS n FROM operation_history WHERE operation_id = ANY($1::uuid[]) GROUP BY operation_id',
    [ids],
  );
  const triggers = await pool.query<{
    trigger_id: string | null;
    layer: string | null;
    instance: string | null;
    fired_at: Date;
  }>('SELECT trigger_id, layer, instance, fired_at FROM alert_history WHERE trigger_id IS NOT NULL');
  return {
    nodes: [...cluster.names],
    mutations: workload.mutations,
    ingests: workload.ingests,
    polls: workload.polls,
    versions: versions.rows.map((r) => ({ version: Number(r.version), correlationId: r.correlation_id })),
    audit: audit.rows.map((r) => ({
      correlationId: r.correlation_id,
      beforeVersion: Number(r.before_version ?? 0),
      afterVersion: Number(r.after_version),
    })),
    epochs: epochs.rows.map((r) => ({
      epochId: r.epoch_id,
      // The epoch id starts with its initiator: `<instance>:<random>` (src/consensus/coordinator.ts).
      initiator: r.epoch_id.split(':')[0]!,
      measuredAtMs: r.measured_at.getTime(),
    })),
    forcedSyncs: workload.forcedSyncs,
    leaderSpans: leaderSpans(cluster),
    storedOperations: new Map(stored.rows.map((r) => [r.operation_id, Number(r.n)])),
    faults,
    paused: pausedSpans(cluster),
    crashes: cluster.crashes().map((c) => ({ node: c.name, atMs: c.atMs, how: c.how ?? '' })),
    triggers: triggers.rows.map((r) => ({
      triggerId: r.trigger_id ?? '',
      layer: r.layer ?? '',
      ...(r.instance ? { instance: r.instance } : {}),
      firedAtMs: r.fired_at.getTime(),
    })),
    // Demo profile: a hold is never shorter than the 4 s window (src/config/load.ts); production holds are longer.
    triggerHoldMs: 4_000,
    epochIntervalMs: timing.epochIntervalMs,
    heartbeatTimeoutMs: timing.heartbeatTimeoutMs,
    convergeBoundMs: 15_000,
  };
}

/** Leadership as each node logged it; a node killed while leading stops leading when it dies. */
function leaderSpans(cluster: FaultCluster): LeaderSpan[] {
  const spans: LeaderSpan[] = [];
  const end = Date.now();
  for (const { name, lines } of cluster.logs()) {
    const deaths = cluster.lives
      .filter((l) => l.name === name && (l.event === 'kill' || l.event === 'exit'))
      .map((l) => l.atMs);
    let from: number | undefined;
    for (const line of lines) {
      if (line.operation !== 'leader_election') continue;
      const at = Date.parse(String(line.timestamp));
      if (line.leader === true) {
        // Became leader again without a "no longer leader" line: the process died while leading and restarted.
        if (from !== undefined) spans.push({ node: name, fromMs: from, toMs: at });
        from = at;
      } else if (from !== undefined) {
        spans.push({ node: name, fromMs: from, toMs: at });
        from = undefined;
      }
    }
    if (from !== undefined) spans.push({ node: name, fromMs: from, toMs: end });
    // A span that runs across a kill -9 ends at the kill: the log just stops.
    for (const s of spans.filter((x) => x.node === name)) {
      const death = Math.min(...deaths.filter((d) => d >= s.fromMs && d < s.toMs));
      if (Number.isFinite(death)) s.toMs = death;
    }
  }
  return spans;
}

function pausedSpans(cluster: FaultCluster): LeaderSpan[] {
  const spans: LeaderSpan[] = [];
  for (const stop of cluster.lives.filter((l) => l.event === 'stop')) {
    const cont = cluster.lives.find((l) => l.name === stop.name && l.event === 'cont' && l.atMs >= stop.atMs);
    spans.push({ node: stop.name, fromMs: stop.atMs, toMs: cont?.atMs ?? Date.now() });
  }
  return spans;
}
