import { layerIds, type LayerId } from '../config/index.js';
import type { Queryable } from '../storage/index.js';
import { normaliseState, settingOf, type DesiredState } from './desired-state.js';
import type { LayerPerformance, PerformanceFigures } from './triggers.js';

export interface PerformanceReaderDeps {
  pool: Queryable;
  instances: readonly string[];
  /** The figures' window (the same one the runtime's snapshot covers). */
  windowMs: number;
  /** Fewer operations than this in a window is no figure (and no baseline). */
  minSamples: number;
}

/** Operations reach operation_history in batches: the newest moment of a window is read this much in the past. */
const flushLagMs = 2_000;
/** Versions read back to find a layer's last change; a change older than this many versions is "long ago". */
const versionsRead = 200;

interface Change {
  version: number;
  atMs: number;
  /** The layer's rollout percentage before the change (0: it was not running on the instance). */
  before: number;
  /** When the setting before the change began: a baseline window reaching back past it would mix two settings. */
  beforeSinceMs: number;
}

/**
 * Latency p99 and throughput per instance and layer for the latency_p99 and throughput triggers, read on the leader
 * from operation_history (the runtime's epoch snapshot carries neither). The baseline is read, not recorded: it is
 * the same layer on the same instance over the window before its last change there (of its own setting or the layer
 * below), taken from operation_history by the created_at of the version that made the change, and kept in memory per
 * version. A layer that was not running on the instance before the change has no "before": its own first whole
 * window after the change is its baseline. While the current window spans the change, there is no figure.
 */
export function createPerformanceReader(deps: PerformanceReaderDeps) {
  const baselines = new Map<string, PerformanceFigures | null>();

  const window = async (fromMs: number, toMs: number): Promise<Map<string, { p99: number; n: number }>> => {
    const result = await deps.pool.query<{ instance: string; layer: string; n: number; p99: number }>(
      `SELECT instance, layer, count(*)::int AS n,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99
         FROM operation_history
        WHERE started_at >= to_timestamp($1::float8 / 1000) AND started_at < to_timestamp($2::float8 / 1000)
        GROUP BY instance, layer`,
      [fromMs, toMs],
    );
    return new Map(result.rows.map((r) => [`${r.instance}|${r.layer}`, { p99: r.p99, n: r.n }]));
  };

  const figuresOf = (
    row: { p99: number; n: number } | undefined,
    spanMs: number,
    percentage: number,
  ): PerformanceFigures | undefined =>
    row && row.n >= deps.minSamples && percentage > 0
      ? { p99Ms: row.p99, throughputPerS: row.n / (spanMs / 1000) / (percentage / 100), samples: row.n }
      : undefined;

  /** The newest change of `layer` (or the layer below) on `instance`, walking back from the newest version. */
  const lastChange = (
    versions: { version: number; atMs: number; state: DesiredState }[],
    instance: string,
    layer: LayerId,
  ): Change | undefined => {
    const below = layerIds[layerIds.indexOf(layer) - 1];
    const key = (s: DesiredState) =>
      [layer, below]
        .filter((l): l is LayerId => l !== undefined)
        .map((l) => settingOf(s, instance, l).percentage)
        .join('/');
    const newest = versions[0];
    if (!newest) return undefined;
    const current = key(newest.state);
    for (let i = 1; i < versions.length; i++) {
      const older = versions[i] as (typeof versions)[number];
      if (key(older.state) !== current) {
        const change = versions[i - 1] as (typeof versions)[number];
        // How long the setting before it had been in force: walk on to the version that introduced it.
        let since = older;
        for (let j = i + 1; j < versions.length; j++) {
          const earlier = versions[j] as (typeof versions)[number];
          if (key(earlier.state) !== key(older.state)) break;
          since = earlier;
        }
        return {
          version: change.version,
          atMs: change.atMs,
          before: settingOf(older.state, instance, layer).percentage,
          beforeSinceMs: since.atMs,
        };
      }
    }
    // Unchanged over every version read: version 1 (before it, nothing ran) or a change older than we read.
    const oldest = versions.at(-1) as (typeof versions)[number];
    return { version: oldest.version, atMs: oldest.atMs, before: oldest.version === 1 ? 0 : -1, beforeSinceMs: 0 };
  };

  return {
    /** Figures for every active (instance, layer) at `now`; read once per epoch evaluation. */
    async read(now: number): Promise<(instance: string, layer: LayerId) => LayerPerformance | undefined> {
      const toMs = now - flushLagMs;
      const fromMs = toMs - deps.windowMs;
      const rows = await deps.pool.query<{ version: string; at_ms: number; state: unknown }>(
        `SELECT version, extract(epoch FROM created_at) * 1000 AS at_ms, state
           FROM desired_state_versions ORDER BY version DESC LIMIT $1`,
        [versionsRead],
      );
      const versions = rows.rows.map((r) => ({
        version: Number(r.version),
        atMs: Number(r.at_ms),
        state: normaliseState(r.state, deps.instances),
      }));
      const current = await window(fromMs, toMs);
      const result = new Map<string, LayerPerformance>();
      const newest = versions[0];
      if (!newest) return () => undefined;
      for (const instance of deps.instances) {
        for (const layer of layerIds) {
          const percentage = settingOf(newest.state, instance, layer).percentage;
          const change = lastChange(versions, instance, layer);
          // The window-spanning-a-change rule: a window mixing two configurations describes neither.
          if (percentage === 0 || !change || fromMs < change.atMs) continue;
          const figures = figuresOf(current.get(`${instance}|${layer}`), deps.windowMs, percentage);
          if (!figures) continue;
          const baseline = await baselineOf(instance, layer, change, percentage, now);
          result.set(`${instance}|${layer}`, { ...figures, ...(baseline && { baseline }) });
        }
      }
      return (instance, layer) => result.get(`${instance}|${layer}`);
    },
  };

  async function baselineOf(
    instance: string,
    layer: LayerId,
    change: Change,
    percentage: number,
    now: number,
  ): Promise<PerformanceFigures | undefined> {
    const key = `${instance}|${layer}|${change.version}`;
    const known = baselines.get(key);
    if (known !== undefined) return known ?? undefined;
    let found: PerformanceFigures | undefined;
    // The window before the change is a baseline only if one setting ran through all of it (30 quick percentage
    // changes in a row leave no clean "before": the first whole window after the last of them is used instead).
    if (change.before > 0 && change.beforeSinceMs <= change.atMs - deps.windowMs) {
      const before = await window(change.atMs - deps.windowMs, change.atMs);
      found = figuresOf(before.get(`${instance}|${layer}`), deps.windowMs, change.before);
    }
    if (!found) {
      // Nothing ran before (or too little): the layer's own first whole window here is what it is judged against.
      if (now - flushLagMs < change.atMs + deps.windowMs) return undefined;
      const after = await window(change.atMs, change.atMs + deps.windowMs);
      found = figuresOf(after.get(`${instance}|${layer}`), deps.windowMs, percentage);
    }
    if (baselines.size > 10_000) baselines.clear();
    baselines.set(key, found ?? null);
    return found;
  }
}

export type PerformanceReader = ReturnType<typeof createPerformanceReader>;
