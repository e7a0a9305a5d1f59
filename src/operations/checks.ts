/**
 * The verdicts of `triad precheck` (operations plan §3: what an operator checks before a rollout). Each judge is a
 * pure function of facts gathered elsewhere (nodes over gRPC by the CLI, the database through storage/), so every
 * threshold is tested without a cluster and the same judges serve precheck and the rollout's cheap subset.
 */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** The measured value, e.g. "3/3 reachable", "skew 12 ms". */
  value: string;
  /** What failed and what would pass, for WARN and FAIL. */
  detail?: string;
}

export const checkIds = [
  'config',
  'nodes_reachable',
  'nodes_ready',
  'same_version',
  'clock_skew',
  'postgres',
  'migrations',
  'disk_free',
  'redis',
  'prometheus',
  'deployment_lock',
  'consensus',
  'audit_chain',
  'certificates',
  'backup_age',
  'alerts',
] as const;
export type CheckId = (typeof checkIds)[number];

/**
 * Checks that cost one GetState per node or one indexed query: what `activate-layers` runs before every change. The
 * others (walking the audit chain, reading every certificate, asking Prometheus) are left to a full precheck.
 */
export const cheapChecks: readonly CheckId[] = [
  'nodes_reachable',
  'nodes_ready',
  'same_version',
  'consensus',
  'deployment_lock',
  'alerts',
];

export interface PrecheckBounds {
  maxClockSkewMs: number;
  minFreeDiskBytes: number;
  minCertificateDays: number;
  maxBackupAgeMs: number;
  /** The consensus gate (layers.yaml gates): an agreed error at or above it fails. */
  maxConsensusError: number;
}

/** The plan's figures: RPO 1 h for the backup; 30 days' notice before a certificate expires. */
export const defaultBounds: PrecheckBounds = {
  maxClockSkewMs: 500,
  minFreeDiskBytes: 1024 ** 3,
  minCertificateDays: 30,
  maxBackupAgeMs: 3_600_000,
  maxConsensusError: 0.01,
};

/** What the CLI learned of one node from its GetState (or why it could not). */
export type NodeFact =
  | { name: string; reachable: false; error: string }
  | {
      name: string;
      reachable: true;
      ready: boolean;
      reasons: string[];
      version: string;
      appliedVersion: number;
      /** The node's clock minus the CLI's at the moment it answered (midpoint of the call); ± rttMs / 2. */
      clockOffsetMs: number;
      rttMs: number;
      consensus: { hasEpoch: boolean; converged: boolean; error: number; lastEpochAtMs: number };
    };

type Reachable = Extract<NodeFact, { reachable: true }>;
const reachableOf = (nodes: readonly NodeFact[]) => nodes.filter((n): n is Reachable => n.reachable);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function judgeNodes(nodes: readonly NodeFact[], cliVersion: string): CheckResult[] {
  const up = reachableOf(nodes);
  const down = nodes.filter((n) => !n.reachable);
  const notReady = up.filter((n) => !n.ready);
  const versions = [...new Set(up.map((n) => n.version))];
  return [
    {
      id: 'nodes_reachable',
      status: down.length === 0 ? 'PASS' : 'FAIL',
      value: `${up.length}/${nodes.length} reachable`,
      ...(down.length > 0 ? { detail: down.map((n) => `${n.name}: ${n.reachable ? '' : n.error}`).join('; ') } : {}),
    },
    {
      id: 'nodes_ready',
      status: notReady.length === 0 && up.length > 0 ? 'PASS' : 'FAIL',
      value: `${up.length - notReady.length}/${nodes.length} ready`,
      ...(notReady.length > 0
        ? { detail: notReady.map((n) => `${n.name}: ${n.reasons.join(', ') || 'not ready'}`).join('; ') }
        : up.length === 0
          ? { detail: 'no node answered' }
          : {}),
    },
    versions.length > 1
      ? {
          id: 'same_version',
          status: 'FAIL',
          value: versions.join(' ≠ '),
          detail: up.map((n) => `${n.name} ${n.version}`).join(', '),
        }
      : versions.length === 0
        ? { id: 'same_version', status: 'FAIL', value: 'unknown', detail: 'no node answered' }
        : versions[0] !== cliVersion
          ? {
              id: 'same_version',
              status: 'WARN',
              value: versions[0]!,
              detail: `every node runs ${versions[0]}, this CLI is ${cliVersion}`,
            }
          : { id: 'same_version', status: 'PASS', value: versions[0] },
  ];
}

/**
 * The spread of the nodes' clocks as this CLI saw them. Each offset is uncertain by half its call's round trip, so
 * the spread is judged after taking that uncertainty off (a slow link must not look like a skewed clock) and the
 * uncertainty is reported beside it.
 */
export function judgeClockSkew(nodes: readonly NodeFact[], maxSkewMs: number): CheckResult {
  const up = reachableOf(nodes);
  if (up.length < 2) return { id: 'clock_skew', status: 'WARN', value: 'n/a', detail: 'fewer than two nodes answered' };
  const offsets = up.map((n) => n.clockOffsetMs);
  const spread = Math.max(...offsets) - Math.min(...offsets);
  const uncertainty = Math.max(...up.map((n) => n.rttMs)) / 2;
  const skew = Math.max(0, spread - 2 * uncertainty);
  const value = `${Math.round(spread)} ms (±${Math.round(uncertainty)} ms)`;
  return skew > maxSkewMs
    ? {
        id: 'clock_skew',
        status: 'FAIL',
        value,
        detail: `clocks differ by more than ${maxSkewMs} ms: ${up.map((n) => `${n.name} ${n.clockOffsetMs >= 0 ? '+' : ''}${Math.round(n.clockOffsetMs)} ms`).join(', ')}`,
      }
    : { id: 'clock_skew', status: 'PASS', value };
}

/** Consensus as the node with the newest epoch reports it, and every node on the same applied desired-state version. */
export function judgeConsensus(nodes: readonly NodeFact[], maxError: number): CheckResult {
  const up = reachableOf(nodes);
  const newest = [...up].sort((a, b) => b.consensus.lastEpochAtMs - a.consensus.lastEpochAtMs)[0];
  if (!newest?.consensus.hasEpoch) {
    return { id: 'consensus', status: 'FAIL', value: 'no epoch', detail: 'no node has run a consensus epoch yet' };
  }
  const applied = [...new Set(up.map((n) => n.appliedVersion))];
  const value = `error ${newest.consensus.error.toFixed(4)}, applied v${applied.join('/v')}`;
  if (!newest.consensus.converged || newest.consensus.error >= maxError) {
    return {
      id: 'consensus',
      status: 'FAIL',
      value,
      detail: `not converged: error ${newest.consensus.error.toFixed(4)} (needs < ${maxError})`,
    };
  }
  if (applied.length > 1) {
    return {
      id: 'consensus',
      status: 'FAIL',
      value,
      detail: `nodes applied different versions: ${up.map((n) => `${n.name} v${n.appliedVersion}`).join(', ')}`,
    };
  }
  return { id: 'consensus', status: 'PASS', value };
}

export function judgeMigrations(status: {
  applied: number[];
  pending: string[];
  unknown: number[];
  changed: string[];
}): CheckResult {
  const value = `level ${Math.max(0, ...status.applied)}`;
  if (status.changed.length > 0) {
    return {
      id: 'migrations',
      status: 'FAIL',
      value,
      detail: `changed after they were applied: ${status.changed.join(', ')}`,
    };
  }
  if (status.pending.length > 0) {
    return {
      id: 'migrations',
      status: 'FAIL',
      value,
      detail: `pending: ${status.pending.join(', ')} (run triad migrate)`,
    };
  }
  if (status.unknown.length > 0) {
    return {
      id: 'migrations',
      status: 'WARN',
      value,
      detail: `the database has versions this build does not ship: ${status.unknown.join(', ')} (a newer triad migrated it)`,
    };
  }
  return { id: 'migrations', status: 'PASS', value };
}

export function judgeDisk(freeBytes: number | undefined, minBytes: number, where: string): CheckResult {
  if (freeBytes === undefined) {
    return {
      id: 'disk_free',
      status: 'WARN',
      value: 'n/a',
      detail: `not measurable from here (${where}); check the server's disk`,
    };
  }
  const value = `${(freeBytes / 1024 ** 3).toFixed(1)} GiB free (${where})`;
  return freeBytes < minBytes
    ? { id: 'disk_free', status: 'FAIL', value, detail: `needs at least ${(minBytes / 1024 ** 3).toFixed(1)} GiB` }
    : { id: 'disk_free', status: 'PASS', value };
}

export function judgeLock(holders: readonly number[]): CheckResult {
  return holders.length === 0
    ? { id: 'deployment_lock', status: 'PASS', value: 'free' }
    : {
        id: 'deployment_lock',
        status: 'FAIL',
        value: 'held',
        detail: `the cluster deployment lock is held by backend pid ${holders.join(', ')} (a change in flight?)`,
      };
}

export function judgeCertificates(
  certificates: readonly { file: string; notAfterMs: number }[],
  nowMs: number,
  minDays: number,
): CheckResult {
  if (certificates.length === 0) {
    return { id: 'certificates', status: 'WARN', value: 'none', detail: 'no certificates found (plaintext cluster?)' };
  }
  const days = (c: { notAfterMs: number }) => (c.notAfterMs - nowMs) / 86_400_000;
  const soonest = [...certificates].sort((a, b) => a.notAfterMs - b.notAfterMs)[0]!;
  const value = `${plural(certificates.length, 'certificate')}, first expiry in ${Math.floor(days(soonest))} d`;
  const short = certificates.filter((c) => days(c) <= minDays);
  return short.length === 0
    ? { id: 'certificates', status: 'PASS', value }
    : {
        id: 'certificates',
        status: 'FAIL',
        value,
        detail: `valid ${minDays} days or less: ${short.map((c) => `${c.file} (${Math.floor(days(c))} d)`).join(', ')} (triad certs rotate)`,
      };
}

/**
 * A missing or old backup is a WARN, not a FAIL: it threatens the RPO, not the rollout, and a fresh cluster has none.
 */
export function judgeBackup(last: { takenAt: Date } | undefined, nowMs: number, maxAgeMs: number): CheckResult {
  if (!last) return { id: 'backup_age', status: 'WARN', value: 'never', detail: 'no backup recorded (triad backup)' };
  const ageMs = nowMs - last.takenAt.getTime();
  const value = `${Math.round(ageMs / 60_000)} min old`;
  return ageMs > maxAgeMs
    ? { id: 'backup_age', status: 'WARN', value, detail: `older than ${Math.round(maxAgeMs / 60_000)} min (the RPO)` }
    : { id: 'backup_age', status: 'PASS', value };
}

export function judgeAlerts(
  open: readonly {
    alert: string;
    severity: string;
    action: string | null;
    layer: string | null;
    instance: string | null;
  }[],
): CheckResult {
  const blocking = open.filter((a) => a.severity === 'critical' || (a.action ?? '').includes('rollback'));
  const describe = (a: (typeof open)[number]) =>
    `${a.alert}${a.layer ? ` ${a.layer}` : ''}${a.instance ? `@${a.instance}` : ''}${a.action ? ` (${a.action})` : ''}`;
  if (blocking.length > 0) {
    return {
      id: 'alerts',
      status: 'FAIL',
      value: `${blocking.length} open`,
      detail: blocking.map(describe).join(', '),
    };
  }
  if (open.length > 0)
    return { id: 'alerts', status: 'WARN', value: `${open.length} open`, detail: open.map(describe).join(', ') };
  return { id: 'alerts', status: 'PASS', value: 'none open' };
}

/** Exit 0 when nothing failed (warnings do not block), 1 otherwise. */
export function precheckExitCode(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'FAIL') ? 1 : 0;
}
