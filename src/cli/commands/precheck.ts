import path from 'node:path';
import { readAuditKey } from '../../certs/index.js';
import type { TriadConfig } from '../../config/index.js';
import { isLoopbackHost } from '../../config/index.js';
import {
  certificateExpiries,
  checkIds,
  checkPrometheus,
  checkRedis,
  defaultBounds,
  freeBytes,
  judgeAlerts,
  judgeBackup,
  judgeCertificates,
  judgeClockSkew,
  judgeConsensus,
  judgeDisk,
  judgeLock,
  judgeMigrations,
  judgeNodes,
  precheckExitCode,
  verifyAudit,
  type CheckId,
  type CheckResult,
  type NodeFact,
  type PrecheckBounds,
} from '../../operations/index.js';
import { triadVersion, TriadError } from '../../shared/index.js';
import {
  backupHistoryStore,
  createPool,
  deploymentLockHolders,
  describeTarget,
  migrationStatus,
  openAlerts,
  probe,
} from '../../storage/index.js';
import { getState, loadCliConfig, parseTarget, withConnections } from '../cluster-client.js';
import {
  configOption,
  jsonOption,
  optionalString,
  targetOption,
  writeJson,
  type CliIO,
  type Command,
  type ParsedValues,
} from '../command.js';
import { formatTable } from '../table.js';
import { readAnchor } from './audit.js';
import { databaseUrlOf, databaseUrlOption } from './database-url.js';

export const precheckCommand: Command = {
  name: 'precheck',
  usage: 'triad precheck [--json] [--only <ids>] [--config <file>] [--database-url <url>] [--prometheus-url <url>]',
  options: {
    ...jsonOption,
    ...configOption,
    ...targetOption,
    ...databaseUrlOption,
    'prometheus-url': {
      type: 'string',
      value: 'url',
      description: 'check that Prometheus scrapes every node (default: $PROMETHEUS_URL; unset: not checked)',
    },
    anchor: {
      type: 'string',
      value: 'file',
      description: 'audit_chain: also check the chain against the last line of an anchor file (`triad audit anchor`)',
    },
    only: { type: 'string', value: 'ids', description: `comma-separated check ids (${checkIds.join(', ')})` },
    'max-clock-skew-ms': {
      type: 'string',
      value: 'ms',
      description: 'clock skew bound between nodes',
      default: String(defaultBounds.maxClockSkewMs),
    },
    'min-free-disk-mb': {
      type: 'string',
      value: 'MiB',
      description: "free disk under the embedded engine's data",
      default: String(defaultBounds.minFreeDiskBytes / 1024 ** 2),
    },
    'min-cert-days': {
      type: 'string',
      value: 'days',
      description: 'certificates must stay valid longer than this',
      default: String(defaultBounds.minCertificateDays),
    },
    'max-backup-age-min': {
      type: 'string',
      value: 'minutes',
      description: 'the RPO: older backups warn',
      default: String(defaultBounds.maxBackupAgeMs / 60_000),
    },
  },
  examples: ['triad precheck', 'triad precheck --json', 'triad precheck --only nodes_reachable,consensus'],
  async run(values, _positionals, io) {
    const only = parseOnly(optionalString(values, 'only'));
    let config: TriadConfig;
    try {
      config = loadCliConfig(values, io);
    } catch (err) {
      // A broken config is the first check's finding, not a crash: nothing else can be checked without it.
      const results: CheckResult[] = [
        { id: 'config', status: 'FAIL', value: 'invalid', detail: (err as Error).message },
      ];
      report(io, values, results);
      return 1;
    }
    const results = await runPrecheck(config, values, io, boundsOf(values, config), only);
    report(io, values, results);
    return precheckExitCode(results);
  },
};

function parseOnly(text: string | undefined): Set<CheckId> | undefined {
  if (text === undefined) return undefined;
  const ids = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !(checkIds as readonly string[]).includes(id));
  if (unknown.length > 0 || ids.length === 0) {
    throw new TriadError('USAGE', `--only: unknown check "${unknown.join(', ')}" (known: ${checkIds.join(', ')})`);
  }
  return new Set(ids as CheckId[]);
}

function positiveNumber(values: ParsedValues, name: string): number {
  const text = optionalString(values, name) ?? '';
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(n)) {
    throw new TriadError('USAGE', `--${name} expects a non-negative number, received "${text}"`);
  }
  return n;
}

function boundsOf(values: ParsedValues, config: TriadConfig): PrecheckBounds {
  return {
    maxClockSkewMs: positiveNumber(values, 'max-clock-skew-ms'),
    minFreeDiskBytes: positiveNumber(values, 'min-free-disk-mb') * 1024 ** 2,
    minCertificateDays: positiveNumber(values, 'min-cert-days'),
    maxBackupAgeMs: positiveNumber(values, 'max-backup-age-min') * 60_000,
    maxConsensusError: config.layers.gates.consensusErrorBelow,
  };
}

/** Every check in `only` (all by default), in the order of checkIds. */
export async function runPrecheck(
  config: TriadConfig,
  values: ParsedValues,
  io: CliIO,
  bounds: PrecheckBounds,
  only?: ReadonlySet<CheckId>,
): Promise<CheckResult[]> {
  const wanted = (id: CheckId) => !only || only.has(id);
  const results: CheckResult[] = [
    {
      id: 'config',
      status: 'PASS',
      value: path.basename(config.clusterFile) + ` (${config.cluster.instances.length} instances)`,
    },
  ];
  const needNodes = (['nodes_reachable', 'nodes_ready', 'same_version', 'clock_skew', 'consensus'] as const).some(
    wanted,
  );
  if (needNodes) {
    const nodes = await nodeFacts(config, values, io);
    results.push(
      ...judgeNodes(nodes, triadVersion),
      judgeClockSkew(nodes, bounds.maxClockSkewMs),
      judgeConsensus(nodes, bounds.maxConsensusError),
    );
  }
  const dbChecks = (
    ['postgres', 'migrations', 'disk_free', 'deployment_lock', 'audit_chain', 'backup_age', 'alerts'] as const
  ).filter(wanted);
  if (dbChecks.length > 0) {
    const found = await databaseChecks(config, values, io, bounds, wanted);
    const db = found.find((r) => r.id === 'postgres');
    if (db?.status === 'FAIL' && !wanted('postgres')) {
      // A subset without the postgres check (activate-layers' own) run where no database is reachable, e.g. from an
      // operator's laptop: say what could not be checked rather than failing on a check nobody asked for.
      for (const id of dbChecks) {
        results.push({ id, status: 'WARN', value: 'not checked', detail: `no database from here: ${db.value}` });
      }
    } else results.push(...found);
  }
  if (wanted('redis')) {
    const remote = config.cluster.instances.some((i) => !isLoopbackHost(i.host));
    results.push(await checkRedis(config.env.redisUrl, config.env.redisCa, remote));
  }
  if (wanted('prometheus')) {
    const url = optionalString(values, 'prometheus-url') ?? (io.env.PROMETHEUS_URL || undefined);
    results.push(
      await checkPrometheus(
        url,
        config.cluster.instances.map((i) => ({ name: i.name, address: `${i.host}:${i.httpPort}` })),
      ),
    );
  }
  if (wanted('certificates') && config.cluster.tls.enabled) {
    results.push(judgeCertificates(certificateExpiries(config.certsDir), io.clock.now(), bounds.minCertificateDays));
  }
  return results
    .filter((r) => r.id === 'config' || wanted(r.id))
    .sort((a, b) => checkIds.indexOf(a.id) - checkIds.indexOf(b.id));
}

const precheckStateDeadlineMs = 5_000;

/**
 * The nodes to check: the cluster config's, or with --target the node it names and the peers that node knows — the
 * cluster the command itself will talk to, not the config beside the CLI.
 */
async function nodeAddresses(
  connections: Parameters<typeof getState>[0],
  config: TriadConfig,
  values: ParsedValues,
): Promise<{ name: string; address: string }[]> {
  const target = optionalString(values, 'target');
  if (target === undefined) {
    return config.cluster.instances.map((i) => ({ name: i.name, address: `${i.host}:${i.grpcPort}` }));
  }
  const first = await getState(connections, parseTarget(target), precheckStateDeadlineMs);
  return [
    { name: first.instance, address: target },
    ...first.peers.map((p) => ({ name: p.instance, address: p.address })),
  ];
}

async function nodeFacts(config: TriadConfig, values: ParsedValues, io: CliIO): Promise<NodeFact[]> {
  return withConnections(values, io, async (connections) =>
    Promise.all(
      (await nodeAddresses(connections, config, values)).map(async (i): Promise<NodeFact> => {
        const sentAt = io.clock.now();
        try {
          // 5 s, not the CLI's usual 2 s: a first TLS handshake to a busy node can take more, and a precheck is not hurried.
          const state = await getState(connections, i.address, precheckStateDeadlineMs);
          const receivedAt = io.clock.now();
          // The node's clock when it answered: its start time plus its uptime, both read from the same clock.
          const nodeNow = state.started_at_ms + state.uptime_seconds * 1000;
          return {
            name: i.name,
            reachable: true,
            ready: state.ready,
            reasons: state.not_ready_reasons,
            version: state.version,
            appliedVersion: state.applied_version,
            clockOffsetMs: nodeNow - (sentAt + receivedAt) / 2,
            rttMs: receivedAt - sentAt,
            consensus: {
              hasEpoch: state.consensus.has_epoch,
              converged: state.consensus.converged,
              error: state.consensus.error,
              lastEpochAtMs: state.consensus.last_epoch_at_ms,
            },
          };
        } catch (err) {
          return { name: i.name, reachable: false, error: err instanceof TriadError ? err.detail : String(err) };
        }
      }),
    ),
  );
}

async function databaseChecks(
  config: TriadConfig,
  values: ParsedValues,
  io: CliIO,
  bounds: PrecheckBounds,
  wanted: (id: CheckId) => boolean,
): Promise<CheckResult[]> {
  const url = databaseUrlOf(values, config);
  if (!url) {
    return [
      {
        id: 'postgres',
        status: 'FAIL',
        value: 'not found',
        detail: `no --database-url, no DATABASE_URL, and no embedded engine running under ${config.env.dataDir}`,
      },
    ];
  }
  const pool = createPool(url, { applicationName: 'triad-precheck', max: 2 });
  try {
    const started = performance.now();
    try {
      await probe(pool);
    } catch (err) {
      return [{ id: 'postgres', status: 'FAIL', value: 'unreachable', detail: (err as Error).message }];
    }
    const results: CheckResult[] = [
      {
        id: 'postgres',
        status: 'PASS',
        value: `${describeTarget(url)} (${Math.round(performance.now() - started)} ms)`,
      },
      judgeMigrations(await migrationStatus(pool)),
      judgeDisk(
        freeBytes(path.join(config.env.dataDir, 'postgres')),
        bounds.minFreeDiskBytes,
        config.env.databaseUrl || optionalString(values, 'database-url') ? 'server' : 'embedded data dir',
      ),
      judgeLock(await deploymentLockHolders(pool)),
    ];
    // Walking the audit chain reads every row: only when asked for (activate-layers' subset does not).
    if (wanted('audit_chain')) results.push(await auditCheck(pool, config, values, io));
    if (wanted('backup_age'))
      results.push(judgeBackup(await backupHistoryStore.latest(pool), io.clock.now(), bounds.maxBackupAgeMs));
    if (wanted('alerts')) results.push(judgeAlerts(await openAlerts(pool)));
    return results;
  } finally {
    await pool.end();
  }
}

/**
 * The checks `activate-layers` runs before sending a change: every node answers, all run one triad version, and no
 * critical alert or automatic rollback is open — what the node's gates do not judge. Left out on purpose: readiness
 * and consensus (the gates judge consensus and `--force` overrides them, audited; refusing here too would take that
 * override away, and readiness flaps while a loaded node catches up), and deployment_lock (the node serialises changes
 * on it and waits its turn, so a lock held for a moment must not turn into a refusal).
 */
export const activationChecks: readonly CheckId[] = ['nodes_reachable', 'same_version', 'alerts'];

/** Runs activationChecks; resolves to the failing ones (empty: go ahead). */
export async function activationPrecheck(values: ParsedValues, io: CliIO): Promise<CheckResult[]> {
  const config = loadCliConfig(values, io);
  const bounds = { ...defaultBounds, maxConsensusError: config.layers.gates.consensusErrorBelow };
  const results = await runPrecheck(config, values, io, bounds, new Set(activationChecks));
  return results.filter((r) => r.status === 'FAIL');
}

function report(io: CliIO, values: ParsedValues, results: CheckResult[]): void {
  const failed = results.filter((r) => r.status === 'FAIL').map((r) => r.id);
  if (values.json) {
    writeJson(io, { ok: failed.length === 0, failed, checks: results });
    return;
  }
  io.stdout.write(
    `${formatTable(
      ['CHECK', 'STATUS', 'VALUE', 'DETAIL'],
      results.map((r) => [r.id, r.status, r.value, r.detail ?? '']),
    )}\n` + (failed.length === 0 ? 'precheck passed\n' : `precheck FAILED: ${failed.join(', ')}\n`),
  );
}

/** The keyed chain walked with the config's audit key, and against `--anchor FILE` (its last line) when given. */
async function auditCheck(
  pool: Parameters<typeof verifyAudit>[0],
  config: TriadConfig,
  values: ParsedValues,
  io: CliIO,
): Promise<CheckResult> {
  let key: ReturnType<typeof readAuditKey>;
  let anchor: ReturnType<typeof readAnchor> | undefined;
  try {
    key = readAuditKey(config.auditKeyFile);
    const anchorFile = optionalString(values, 'anchor');
    anchor = anchorFile ? readAnchor(key, path.resolve(io.cwd, anchorFile), anchorFile) : undefined;
  } catch (err) {
    return { id: 'audit_chain', status: 'FAIL', value: 'cannot check', detail: (err as Error).message };
  }
  const audit = await verifyAudit(pool, key, anchor);
  const against = anchor ? ' (head matches the anchor)' : ' (no --anchor given)';
  return audit.ok
    ? { id: 'audit_chain', status: 'PASS', value: `${audit.rows} rows intact${against}` }
    : { id: 'audit_chain', status: 'FAIL', value: `broken at row ${audit.brokenAt ?? '?'}`, detail: audit.reason };
}
