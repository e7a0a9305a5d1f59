import type { History, LeaderSpan } from './history.js';

/**
 * Reads a scenario's history afterwards, the way Jepsen's checkers and etcd's robustness validation do: every claim
 * triad makes is a property of the recorded calls, polls and stored rows, checked here by pure functions (unit
 * tested on hand-made bad histories in test/unit/faults/checker.test.ts).
 */

export type CheckName =
  | 'versions'
  | 'lost-update'
  | 'applied-monotonic'
  | 'convergence'
  | 'single-leader'
  | 'ingest'
  | 'trigger-once'
  | 'divergence'
  | 'crash';

export interface Violation {
  check: CheckName;
  message: string;
}

export interface Figures {
  mutationsAcked: number;
  mutationsLost: number;
  mutationsDuplicated: number;
  mutationsUnknown: number;
  ingestAcked: number;
  ingestLost: number;
  ingestDoubled: number;
  /** From the last heal until every node applied the latest version and was ready; undefined without a heal. */
  convergeMs: number | undefined;
  /** Longest time with no leader acting between two leaders' interval epochs. */
  leaderGapMs: number | undefined;
  /** Longest time from a partition until a node on the majority side reported it. */
  divergenceDetectMs: number | undefined;
}

export interface Verdict {
  violations: Violation[];
  figures: Figures;
}

export function checkHistory(h: History): Verdict {
  const violations: Violation[] = [];
  const add = (check: CheckName, message: string) => violations.push({ check, message });
  const figures: Figures = {
    mutationsAcked: 0,
    mutationsLost: 0,
    mutationsDuplicated: 0,
    mutationsUnknown: 0,
    ingestAcked: 0,
    ingestLost: 0,
    ingestDoubled: 0,
    convergeMs: undefined,
    leaderGapMs: undefined,
    divergenceDetectMs: undefined,
  };
  checkVersions(h, add, figures);
  checkLostUpdate(h, add);
  checkApplied(h, add, figures);
  checkLeaders(h, add, figures);
  checkIngest(h, add, figures);
  checkTriggers(h, add);
  checkDivergence(h, add, figures);
  for (const c of h.crashes) add('crash', `${c.node} exited by itself at ${c.atMs} (${c.how})`);
  return { violations, figures };
}

type Add = (check: CheckName, message: string) => void;

/** 1: versions 1…n without gaps; an acknowledged change is in it exactly once, a failed one never, an unknown ≤ once. */
function checkVersions(h: History, add: Add, f: Figures): void {
  const sorted = [...h.versions].sort((a, b) => a.version - b.version);
  sorted.forEach((v, i) => {
    if (v.version !== i + 1)
      add('versions', `version ${i + 1} missing: stored versions go ${sorted[i - 1]?.version ?? 0} → ${v.version}`);
  });
  const byCorrelation = new Map<string, number[]>();
  for (const v of h.versions)
    byCorrelation.set(v.correlationId, [...(byCorrelation.get(v.correlationId) ?? []), v.version]);
  for (const m of h.mutations) {
    const stored = byCorrelation.get(m.correlationId) ?? [];
    const call = `${m.client} ${m.kind} ${m.correlationId} (at ${m.invokeMs}, ${m.outcome}${m.version ? ` as v${m.version}` : ''})`;
    if (m.outcome === 'ok' && !m.noop) {
      f.mutationsAcked++;
      if (stored.length === 0) {
        f.mutationsLost++;
        add('versions', `acknowledged change lost: ${call} is in no stored version`);
      } else if (stored.length > 1) {
        f.mutationsDuplicated++;
        add('versions', `acknowledged change stored ${stored.length} times: ${call} as v${stored.join(', v')}`);
      } else if (m.version !== undefined && stored[0] !== m.version) {
        add('versions', `${call} was acknowledged as v${m.version} but stored as v${stored[0]}`);
      }
    } else if (m.outcome === 'ok' && m.noop && stored.length > 0) {
      add('versions', `${call} answered "nothing to change" but wrote v${stored.join(', v')}`);
    } else if (m.outcome === 'failed' && stored.length > 0) {
      add('versions', `failed change written anyway: ${call} (${m.error ?? ''}) is v${stored.join(', v')}`);
    } else if (m.outcome === 'unknown') {
      f.mutationsUnknown++;
      if (stored.length > 1) {
        f.mutationsDuplicated++;
        add('versions', `change of unknown outcome stored ${stored.length} times: ${call} as v${stored.join(', v')}`);
      }
    }
  }
}

/** 2: each version's parent is the one before it: no change was computed from a stale version and overwrote another. */
function checkLostUpdate(h: History, add: Add): void {
  for (const a of h.audit) {
    if (a.afterVersion !== a.beforeVersion + 1) {
      add(
        'lost-update',
        `${a.correlationId} wrote v${a.afterVersion} from v${a.beforeVersion}: its parent is not the version before it`,
      );
    }
  }
  const parents = new Map<number, string[]>();
  for (const a of h.audit) parents.set(a.beforeVersion, [...(parents.get(a.beforeVersion) ?? []), a.correlationId]);
  for (const [parent, children] of parents) {
    if (children.length > 1)
      add(
        'lost-update',
        `v${parent} has ${children.length} children (${children.join(', ')}): concurrent changes forked`,
      );
  }
}

/** 3: a node's applied version never goes backwards within one run; after the last heal all reach the latest. */
function checkApplied(h: History, add: Add, f: Figures): void {
  const polls = [...h.polls].sort((a, b) => a.atMs - b.atMs);
  const last = new Map<string, { startedAtMs: number; version: number; atMs: number }>();
  for (const p of polls) {
    if (!p.answered) continue;
    const prev = last.get(p.node);
    if (prev && prev.startedAtMs === p.startedAtMs && p.appliedVersion < prev.version) {
      add(
        'applied-monotonic',
        `${p.node} applied v${prev.version} at ${prev.atMs}, then reported v${p.appliedVersion} at ${p.atMs}`,
      );
    }
    if (prev && prev.startedAtMs !== p.startedAtMs && p.appliedVersion < prev.version && p.appliedVersion !== 0) {
      // A restarted node reads the latest version before answering; reporting an older one than before is a rollback.
      add(
        'applied-monotonic',
        `${p.node} restarted and reported v${p.appliedVersion}, older than v${prev.version} before`,
      );
    }
    last.set(p.node, { startedAtMs: p.startedAtMs, version: p.appliedVersion, atMs: p.atMs });
  }
  const latest = Math.max(0, ...h.versions.map((v) => v.version));
  // At the end (the load stopped, a quiet period passed) every node is on the latest version, and was ready in the
  // last stretch of the quiet period (one late poll under CPU starvation is not a divergence).
  const endMs = polls.at(-1)?.atMs ?? 0;
  for (const node of h.nodes) {
    const final = [...polls].reverse().find((p) => p.node === node && p.answered);
    const readyLately = polls.some((p) => p.node === node && p.answered && p.ready && p.atMs >= endMs - 3_000);
    if (!final || final.appliedVersion !== latest || !readyLately) {
      add(
        'convergence',
        `${node} ended ${final ? `on v${final.appliedVersion}${readyLately ? '' : `, not ready in the last 3 s (${final.reasons.join('; ')})`}` : 'unanswering'}, latest is v${latest}`,
      );
    }
  }
  if (h.faults.length === 0) return;
  // Time to converge: from the last heal until every node is ready on what was acknowledged by then.
  const healMs = Math.max(...h.faults.map((w) => w.healMs));
  const target = Math.max(
    0,
    ...h.mutations.filter((m) => m.version !== undefined && m.completeMs <= healMs).map((m) => m.version!),
  );
  let worst = 0;
  for (const node of h.nodes) {
    const first = polls.find(
      (p) => p.node === node && p.atMs >= healMs && p.answered && p.ready && p.appliedVersion >= target,
    );
    if (!first) {
      add('convergence', `${node} was never ready on v${target} or later after the heal at ${healMs}`);
      return;
    }
    worst = Math.max(worst, first.atMs - healMs);
  }
  f.convergeMs = worst;
  if (worst > h.convergeBoundMs) {
    add(
      'convergence',
      `every node was ready on v${target} only ${worst} ms after the heal (bound ${h.convergeBoundMs} ms)`,
    );
  }
}

/**
 * 4: one leader at a time. Two views: leadership as each node logged it (less the spans it was paused and could not
 * act), and leadership as it acted: the interval epochs it recorded (forced syncs, which any node may initiate,
 * excluded). Two initiators' interval epochs closer than half an interval mean two leaders at once.
 */
function checkLeaders(h: History, add: Add, f: Figures): void {
  const acting = h.leaderSpans.flatMap((s) =>
    minus(
      s,
      h.paused.filter((p) => p.node === s.node),
    ),
  );
  for (let i = 0; i < acting.length; i++) {
    for (let j = i + 1; j < acting.length; j++) {
      const a = acting[i]!;
      const b = acting[j]!;
      if (a.node === b.node) continue;
      const overlap = Math.min(a.toMs, b.toMs) - Math.max(a.fromMs, b.fromMs);
      if (overlap > 0) {
        add(
          'single-leader',
          `${a.node} (${a.fromMs}…${a.toMs}) and ${b.node} (${b.fromMs}…${b.toMs}) both led for ${overlap} ms`,
        );
      }
    }
  }
  const forced = (e: { initiator: string; measuredAtMs: number; epochId: string }) =>
    h.forcedSyncs.some(
      (s) =>
        s.epochId === e.epochId ||
        (s.node === e.initiator && e.measuredAtMs >= s.invokeMs - 50 && e.measuredAtMs <= s.completeMs + 50),
    );
  const interval = h.epochs.filter((e) => !forced(e)).sort((a, b) => a.measuredAtMs - b.measuredAtMs);
  let gap: number | undefined;
  for (let i = 1; i < interval.length; i++) {
    const prev = interval[i - 1]!;
    const e = interval[i]!;
    if (e.initiator === prev.initiator) continue;
    const between = e.measuredAtMs - prev.measuredAtMs;
    if (between < h.epochIntervalMs / 2) {
      add(
        'single-leader',
        `${prev.initiator} (${prev.epochId}) and ${e.initiator} (${e.epochId}) ran interval epochs ${between} ms apart`,
      );
    }
    gap = Math.max(gap ?? 0, between);
  }
  f.leaderGapMs = gap;
}

function minus(span: LeaderSpan, holes: readonly LeaderSpan[]): LeaderSpan[] {
  let parts = [span];
  for (const hole of holes) {
    parts = parts.flatMap((p) => {
      if (hole.toMs <= p.fromMs || hole.fromMs >= p.toMs) return [p];
      const out: LeaderSpan[] = [];
      if (hole.fromMs > p.fromMs) out.push({ ...p, toMs: hole.fromMs });
      if (hole.toMs < p.toMs) out.push({ ...p, fromMs: hole.toMs });
      return out;
    });
  }
  return parts;
}

/** 5: every acknowledged operation is stored exactly once; nothing is stored twice. */
function checkIngest(h: History, add: Add, f: Figures): void {
  const acked = new Set(h.ingests.filter((c) => c.outcome === 'ok').flatMap((c) => c.accepted));
  f.ingestAcked = acked.size;
  for (const id of acked) {
    const n = h.storedOperations.get(id) ?? 0;
    if (n === 0) {
      f.ingestLost++;
      const call = h.ingests.find((c) => c.accepted.includes(id))!;
      add(
        'ingest',
        `acknowledged operation ${id} (${call.client} at ${call.invokeMs}, ${call.attempts} attempts) is not stored`,
      );
    }
  }
  for (const [id, n] of h.storedOperations) {
    if (n > 1) {
      f.ingestDoubled++;
      add('ingest', `operation ${id} stored ${n} times`);
    }
  }
  for (const c of h.ingests.filter((x) => x.outcome === 'failed')) {
    const stored = c.operationIds.filter((id) => (h.storedOperations.get(id) ?? 0) > 0);
    if (stored.length > 0)
      add(
        'ingest',
        `${c.client} at ${c.invokeMs} failed definitely (${c.error ?? ''}) but ${stored.length} of its operations are stored`,
      );
  }
}

/**
 * 6: a rollback trigger fires at most once per hold. One firing may write a row per instance it rolls back (same
 * fired_at); two firings of a trigger on one layer and instance closer than its hold are one too many (a new leader
 * repeating its predecessor's decision is the failure this looks for).
 */
function checkTriggers(h: History, add: Add): void {
  const byTrigger = new Map<string, Set<number>>();
  for (const t of h.triggers) {
    const key = `${t.triggerId}/${t.layer}${t.instance ? `/${t.instance}` : ''}`;
    byTrigger.set(key, (byTrigger.get(key) ?? new Set()).add(t.firedAtMs));
  }
  for (const [trigger, set] of byTrigger) {
    const times = [...set].sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! < h.triggerHoldMs) {
        add(
          'trigger-once',
          `${trigger} fired at ${times[i - 1]} and again at ${times[i]}, within one hold (${h.triggerHoldMs} ms)`,
        );
      }
    }
  }
}

/**
 * 7: an isolated node shows as divergence — unreachable in a majority node's consensus view or readiness, or a
 * consensus error above the alert threshold — within two epochs (plus the heartbeat timeout that decides
 * "unreachable"); and after the heal no node still reports it.
 */
function checkDivergence(h: History, add: Add, f: Figures): void {
  const boundMs = 2 * h.epochIntervalMs + h.heartbeatTimeoutMs;
  for (const w of h.faults) {
    for (const node of w.isolated) {
      const seen = h.polls
        .filter((p) => p.answered && !w.isolated.includes(p.node) && p.atMs >= w.startMs && p.atMs <= w.healMs)
        .sort((a, b) => a.atMs - b.atMs)
        .find(
          (p) => p.unreachable.includes(node) || p.reasons.some((r) => r.includes(node)) || p.consensusError > 0.05,
        );
      if (!seen) {
        add(
          'divergence',
          `${w.fault}: ${node} was cut off from ${w.startMs} to ${w.healMs} and no other node reported it`,
        );
        continue;
      }
      const took = seen.atMs - w.startMs;
      f.divergenceDetectMs = Math.max(f.divergenceDetectMs ?? 0, took);
      if (took > boundMs)
        add('divergence', `${w.fault}: ${node} reported as diverged only after ${took} ms (bound ${boundMs} ms)`);
    }
  }
}
