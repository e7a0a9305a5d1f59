import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../shared/index.js';
import { durationMs, optionalDelayMs } from './duration.js';
import { fileIssues, hostProblems, portClashes } from './cluster-rules.js';
import { parseLocatedYaml } from './located-yaml.js';

export type TopologyKind = 'complete' | 'ring' | 'star' | 'path' | 'custom';

export interface InstanceAddress {
  name: string;
  host: string;
  grpcPort: number;
  httpPort: number;
}

export interface ClusterConfig {
  name: string;
  topology: TopologyKind;
  /** Custom topology only: undirected weighted edges between instance names. */
  edges: readonly (readonly [string, string, number])[];
  instances: readonly InstanceAddress[];
  /** layers.yaml, resolved relative to cluster.yaml. */
  layersFile: string;
  heartbeat: { intervalMs: number; timeoutMs: number };
  consensus: {
    intervalMs: number;
    epsilon: number;
    roundTimeoutMs: number;
    demoIntervalMs: number;
    // The keys below are optional in the type (consensusDefaults fill them) so configs built in code stay valid.
    /** How far a peer's timestamps (an outcome's start) may sit from this node's clock before they are dropped. */
    maxClockSkewMs?: number;
    /** The most rounds a plan may ask for; a plan asking for more is dropped. */
    maxRounds?: number;
    /** Epochs this node takes part in at once; plans beyond it are dropped. */
    maxConcurrentEpochs?: number;
    /** Epochs a mailbox holds early or late messages for, and how long it keeps them. */
    mailbox?: { maxEpochs: number; ttlMs: number };
    /** W-MSR (docs/consensus.md): f > 0 trims up to f neighbour values above and f below before each update. */
    resilience?: { f: number; rounds: number };
  };
  runtime: {
    /** Window of amplification, error rate and burden figures; `demoWindowMs` under the demo profile. */
    windowMs: number;
    demoWindowMs: number;
  };
  synthetic: {
    enabled: boolean;
    intervalMs: number;
    seed: string;
    baseBurdenHoursPerWeek: number;
    faults: readonly SyntheticFaultConfig[];
  };
  /** Live state (Redis) key prefix, so several clusters can share one Redis. */
  redisKeyPrefix: string;
  /** RecordOperations: a token bucket per framework (cluster-wide with Redis) and the bound of the durable queue. */
  /** Operations per second per framework, and per client identity (default: the same), with the same burst. */
  ingest: { rateLimitPerSecond: number; clientRateLimitPerSecond: number; burst: number; queueCapacity: number };
  /**
   * Mutual TLS on every gRPC connection (DESIGN §8). `dir` is the certificate directory as written (relative to
   * cluster.yaml); absent means the data dir's `certs/` (what `triad up` generates). Plaintext only on loopback.
   */
  tls: { enabled: boolean; dir?: string; reloadIntervalMs: number };
  /** /metrics, /health, /ready: HTTPS with the node's certificate (`auto`: unless its host is loopback). */
  http: { tls: 'auto' | 'on' | 'off'; clientCertificates: boolean };
  /** The audit chain's HMAC key file as written (relative to cluster.yaml); absent: `audit.key` in the certs dir. */
  audit: { keyFile?: string };
  /**
   * What the leader keeps (operations plan: operational data 90 days, audit a year). `operationsDays`: daily
   * operation_history partitions older than this are dropped every `intervalMs`. `auditDays` is a floor, not a pruning
   * age: triad never deletes audit rows (the hash chain must verify from its start), so the bound only refuses a
   * configuration that promises less than the plan's year.
   */
  retention: { operationsDays: number; auditDays: number; intervalMs: number };
}

export interface SyntheticFaultConfig {
  instance: string;
  layer: string;
  errorRate: number;
  burdenScale: number;
  latencyMs: number;
}

const instanceName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'expected a lowercase name like "alpha" (a-z, 0-9, "_", "-"; up to 32 chars)');
const portMessage = (issue: { input?: unknown }) =>
  `expected a port between 1 and 65535, received ${String(issue.input)}`;
const port = z
  .number({ error: portMessage })
  .int({ error: portMessage })
  .min(1, { error: portMessage })
  .max(65535, { error: portMessage });

/**
 * Bounds of consensus input (docs/security.md "Consensus input"): the clock skew tolerated on a peer's timestamps,
 * the rounds a plan may ask for, epochs run at once, the mailboxes' size and lifetime, W-MSR's rounds.
 */
export const consensusDefaults = {
  maxClockSkewMs: 5_000,
  maxRounds: 1_000,
  maxConcurrentEpochs: 4,
  mailboxMaxEpochs: 64,
  mailboxTtlMs: 60_000,
  resilientRounds: 60,
} as const;
/** W-MSR tolerates f liars only on graphs of at least 3f + 1 nodes; 12 is the most `analyze` checks by brute force. */
export const maxResilienceF = 3;

/** Nodes in one cluster: consensus is all-to-all on K_n, and 64 is far past any deployment triad is built for. */
export const maxInstances = 64;

const ClusterFile = z.strictObject({
  cluster: z
    .strictObject({
      name: z
        .string()
        .min(1)
        .max(64)
        .regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-"')
        .default('triad'),
      topology: z.enum(['complete', 'ring', 'star', 'path', 'custom']).default('complete'),
      edges: z
        .array(
          z.tuple([
            instanceName,
            instanceName,
            z.number().positive('expected a weight > 0').max(1e12, 'expected a weight ≤ 1e12').optional(),
          ]),
        )
        .max(maxInstances * (maxInstances - 1), `expected at most ${maxInstances * (maxInstances - 1)} edges`)
        .default([]),
      layers_file: z.string().min(1).max(4096).default('layers.yaml'),
    })
    .prefault({}),
  instances: z
    .array(
      z.strictObject({
        name: instanceName,
        host: z.string().min(1).max(253).default('127.0.0.1'),
        grpc_port: port,
        http_port: port,
      }),
    )
    .min(1, 'expected at least one instance')
    .max(maxInstances, `expected at most ${maxInstances} instances`),
  heartbeat: z.strictObject({ interval: durationMs.default(1000), timeout: durationMs.default(3000) }).prefault({}),
  consensus: z
    .strictObject({
      interval: durationMs.default(10_000),
      epsilon: z.number().gt(0, 'expected 0 < epsilon < 1').lt(1, 'expected 0 < epsilon < 1').default(1e-6),
      round_timeout: durationMs.default(500),
      demo_interval: durationMs.default(1_000),
      max_clock_skew: durationMs
        .refine((ms) => ms <= 600_000, 'expected a skew of at most 10m')
        .default(consensusDefaults.maxClockSkewMs),
      max_rounds: z.number().int().min(1).max(10_000).default(consensusDefaults.maxRounds),
      max_concurrent_epochs: z.number().int().min(1).max(64).default(consensusDefaults.maxConcurrentEpochs),
      mailbox: z
        .strictObject({
          max_epochs: z.number().int().min(4).max(4_096).default(consensusDefaults.mailboxMaxEpochs),
          ttl: durationMs
            .refine((ms) => ms <= 3_600_000, 'expected a ttl of at most 1h')
            .default(consensusDefaults.mailboxTtlMs),
        })
        .prefault({}),
      resilience: z
        .strictObject({
          f: z.number().int().min(0).max(maxResilienceF).default(0),
          rounds: z.number().int().min(1).max(10_000).default(consensusDefaults.resilientRounds),
        })
        .prefault({}),
    })
    .prefault({}),
  runtime: z
    .strictObject({ window: durationMs.default(300_000), demo_window: durationMs.default(10_000) })
    .prefault({}),
  synthetic: z
    .strictObject({
      enabled: z.boolean().default(false),
      interval: durationMs.default(1_000),
      seed: z.string().min(1).max(256).default('triad'),
      base_burden_hours_per_week: z.number().positive().max(10_000).default(1.35),
      faults: z
        .array(
          z.strictObject({
            instance: instanceName,
            layer: z.enum(['R1', 'R2', 'R3', 'R4', 'R5', 'R6']),
            error_rate: z.number().min(0).max(1).default(0),
            burden_scale: z.number().min(0).max(100).default(1),
            latency: optionalDelayMs.default(0),
          }),
        )
        .max(maxInstances * 6, `expected at most ${maxInstances * 6} faults (one per instance and layer)`)
        .default([]),
    })
    .prefault({}),
  redis: z.strictObject({ key_prefix: z.string().min(1).max(64).default('triad:') }).prefault({}),
  ingest: z
    .strictObject({
      rate_limit: z.number().positive('expected operations per second > 0').max(1_000_000).default(5_000),
      client_rate_limit: z.number().positive('expected operations per second > 0').max(1_000_000).optional(),
      burst: z.number().int().min(1).max(10_000_000).default(10_000),
      queue_capacity: z.number().int().min(1).max(1_000_000).default(50_000),
    })
    .prefault({}),
  tls: z
    .strictObject({
      enabled: z.boolean().default(true),
      dir: z.string().min(1).max(4096).optional(),
      reload_interval: durationMs.default(5_000),
    })
    .prefault({}),
  http: z
    .strictObject({
      tls: z.enum(['auto', 'on', 'off']).default('auto'),
      client_certificates: z.boolean().default(false),
    })
    .prefault({}),
  audit: z.strictObject({ key_file: z.string().min(1).max(4096).optional() }).prefault({}),
  retention: z
    .strictObject({
      // At least a week: the partitions kept ahead of today, and the shortest window anything reads.
      operations_days: z.number().int('expected whole days').min(7).max(3650).default(90),
      audit_days: z
        .number()
        .int('expected whole days')
        .min(365, 'expected at least 365 (the operations plan keeps the audit a year)')
        .max(36_500)
        .default(365),
      // Hourly by default; under a minute would only add load, over a day lets a partition outlive its retention long.
      interval: durationMs
        .refine((ms) => ms >= 60_000 && ms <= 86_400_000, 'expected an interval within [1m, 24h]')
        .default(3_600_000),
    })
    .prefault({}),
});

/** The file's schema, with its cross-field rules; `insecure` (--insecure) turns TLS off and must pass them too. */
function clusterFile(options: { insecure: boolean }) {
  return ClusterFile.superRefine((file, ctx) => {
    // Cross-field rules live in the schema so their paths, and so their file:line:col, come out like any other issue.
    const tls = options.insecure ? { ...file.tls, enabled: false } : file.tls;
    for (const issue of fileIssues({ ...file, tls }, { insecure: options.insecure }))
      ctx.addIssue({ code: 'custom', ...issue });
  });
}

export interface LoadClusterOptions {
  /** Shown in error messages (`config/cluster.yaml:3:5`). */
  displayPath: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** --insecure: plaintext gRPC, refused unless every address is loopback. */
  insecure?: boolean;
}

/** Parses cluster.yaml, then applies TRIAD_<INSTANCE>_{HOST,GRPC_PORT,HTTP_PORT} overrides and re-checks ports. */
export function parseClusterConfig(text: string, options: LoadClusterOptions): ClusterConfig {
  const insecure = options.insecure ?? false;
  const file = parseLocatedYaml(options.displayPath, text, clusterFile({ insecure }));
  const tlsEnabled = file.tls.enabled && !insecure;
  const issues: ConfigIssue[] = [];
  const overriddenBy = new Map<string, string>();

  const instances = file.instances.map((i, index) => {
    const address: InstanceAddress = { name: i.name, host: i.host, grpcPort: i.grpc_port, httpPort: i.http_port };
    const prefix = `TRIAD_${i.name.toUpperCase().replaceAll('-', '_')}_`;
    const host = options.env?.[`${prefix}HOST`];
    if (host !== undefined && host !== '') address.host = host;
    for (const [suffix, key] of [
      ['GRPC_PORT', 'grpcPort'],
      ['HTTP_PORT', 'httpPort'],
    ] as const) {
      const variable = `${prefix}${suffix}`;
      const raw = options.env?.[variable];
      if (raw === undefined || raw === '') continue;
      const value = Number(raw);
      if (/^\d+$/.test(raw) && value >= 1 && value <= 65535) {
        address[key] = value;
        overriddenBy.set(`instances.${index}.${suffix.toLowerCase()}`, variable);
      } else {
        issues.push({
          where: `env ${variable}`,
          field: `instances.${index}.${suffix.toLowerCase()}`,
          message: `expected a port between 1 and 65535, received "${raw}"`,
        });
      }
    }
    return address;
  });
  // A host overridden from the environment gets the loopback rules too (the file's hosts had them in the schema).
  instances.forEach((address, index) => {
    const variable = `TRIAD_${address.name.toUpperCase().replaceAll('-', '_')}_HOST`;
    if (!options.env?.[variable]) return;
    for (const message of hostProblems(address.host, { tls: tlsEnabled, http: file.http.tls, insecure }))
      issues.push({ where: `env ${variable}`, field: `instances.${index}.host`, message });
  });
  if (overriddenBy.size > 0) {
    for (const clash of portClashes(instances)) {
      const variable = overriddenBy.get(clash.field) ?? overriddenBy.get(clash.firstField);
      issues.push({
        where: variable ? `env ${variable}` : options.displayPath,
        field: clash.field,
        message: clash.message,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);

  return {
    name: file.cluster.name,
    topology: file.cluster.topology,
    edges: file.cluster.edges.map(([a, b, w]) => [a, b, w ?? 1] as const),
    instances,
    layersFile: file.cluster.layers_file,
    heartbeat: { intervalMs: file.heartbeat.interval, timeoutMs: file.heartbeat.timeout },
    consensus: {
      intervalMs: file.consensus.interval,
      epsilon: file.consensus.epsilon,
      roundTimeoutMs: file.consensus.round_timeout,
      demoIntervalMs: file.consensus.demo_interval,
      maxClockSkewMs: file.consensus.max_clock_skew,
      maxRounds: file.consensus.max_rounds,
      maxConcurrentEpochs: file.consensus.max_concurrent_epochs,
      mailbox: { maxEpochs: file.consensus.mailbox.max_epochs, ttlMs: file.consensus.mailbox.ttl },
      resilience: { f: file.consensus.resilience.f, rounds: file.consensus.resilience.rounds },
    },
    runtime: { windowMs: file.runtime.window, demoWindowMs: file.runtime.demo_window },
    synthetic: {
      enabled: file.synthetic.enabled,
      intervalMs: file.synthetic.interval,
      seed: file.synthetic.seed,
      baseBurdenHoursPerWeek: file.synthetic.base_burden_hours_per_week,
      faults: file.synthetic.faults.map((f) => ({
        instance: f.instance,
        layer: f.layer,
        errorRate: f.error_rate,
        burdenScale: f.burden_scale,
        latencyMs: f.latency,
      })),
    },
    redisKeyPrefix: file.redis.key_prefix,
    ingest: {
      rateLimitPerSecond: file.ingest.rate_limit,
      clientRateLimitPerSecond: file.ingest.client_rate_limit ?? file.ingest.rate_limit,
      burst: file.ingest.burst,
      queueCapacity: file.ingest.queue_capacity,
    },
    tls: {
      enabled: tlsEnabled,
      ...(file.tls.dir !== undefined ? { dir: file.tls.dir } : {}),
      reloadIntervalMs: file.tls.reload_interval,
    },
    http: { tls: file.http.tls, clientCertificates: file.http.client_certificates },
    audit: file.audit.key_file !== undefined ? { keyFile: file.audit.key_file } : {},
    retention: {
      operationsDays: file.retention.operations_days,
      auditDays: file.retention.audit_days,
      intervalMs: file.retention.interval,
    },
  };
}
