import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, projectRoot } from '../shared/index.js';
import { parseClusterConfig, type ClusterConfig } from './cluster.js';
import { maxConfigFileBytes } from './located-yaml.js';
import { parseLayersConfig, type LayersConfig, type RollbackTriggerConfig } from './layers.js';

export interface TriadConfig {
  cluster: ClusterConfig;
  layers: LayersConfig;
  /** Absolute path of cluster.yaml: passed to child processes so they read the very same file. */
  clusterFile: string;
  env: RuntimeEnv;
  /** Durations and minimums in force for the profile, resolved once here; components read these, never the raw ones. */
  timing: Timing;
  /** The certificate directory, absolute: cluster.yaml's tls.dir (relative to the file) or `<data dir>/certs`. */
  certsDir: string;
  /** The audit key file, absolute: cluster.yaml's audit.key_file (relative to the file) or `<certsDir>/audit.key`. */
  auditKeyFile: string;
}

/**
 * What gates, triggers, the runtime and consensus go by. The demo profile compresses all of it together, so the
 * relations between them hold in both profiles: a trigger's hold is never shorter than the window its figure is
 * measured over, and figures are never judged stale sooner than a few epochs.
 */
export interface Timing {
  /** Window of the amplification, error-rate and burden figures. */
  windowMs: number;
  /** How often the leader runs a consensus epoch (and so evaluates rollback triggers). */
  epochIntervalMs: number;
  /** A configured duration (stage stability, a trigger's `for:`) as in force. */
  duration: (ms: number) => number;
  /** How long a trigger's condition must hold before it fires. */
  holdMs: (trigger: Pick<RollbackTriggerConfig, 'forMs' | 'metric'>) => number;
  /** Fewer operations than this in a window is too little to judge (gates: cluster-wide; triggers: per instance). */
  minSamples: number;
  /** Agreed figures older than this are stale. */
  maxSampleAgeMs: number;
}

/** Everything triad reads from the environment, read here once (STYLE §3). */
export interface RuntimeEnv {
  databaseUrl?: string;
  redisUrl?: string;
  /** TRIAD_REDIS_CA, read: the CA for a rediss:// REDIS_URL whose server certificate is not from a system CA. */
  redisCa?: Buffer;
  /** Embedded PostgreSQL data, node logs and other local state. */
  dataDir: string;
  logLevel: string;
  profile: 'production' | 'demo';
  /** TRIAD_TEST_HOOKS=1 enables Admin calls that only tests may make (setting a node's measurement directly). */
  testHooks: boolean;
}

export interface LoadConfigOptions {
  /** --config; else TRIAD_CONFIG; else ./config/cluster.yaml; else the one shipped with triad. */
  configPath?: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** --insecure: plaintext gRPC, allowed only when every instance is on loopback. */
  insecure?: boolean;
}

export function resolveClusterFile(options: LoadConfigOptions): string {
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.configPath ?? options.env.TRIAD_CONFIG;
  if (explicit) return path.resolve(cwd, explicit);
  const local = path.resolve(cwd, 'config/cluster.yaml');
  return existsSync(local) ? local : path.join(projectRoot, 'config/cluster.yaml');
}

export function loadConfig(options: LoadConfigOptions): TriadConfig {
  const cwd = options.cwd ?? process.cwd();
  const clusterFile = resolveClusterFile(options);
  const cluster = parseClusterConfig(readConfigFile(clusterFile, cwd), {
    displayPath: displayPath(clusterFile, cwd),
    env: options.env,
    ...(options.insecure ? { insecure: true } : {}),
  });
  const layersFile = path.resolve(path.dirname(clusterFile), cluster.layersFile);
  const layers = parseLayersConfig(readConfigFile(layersFile, cwd), displayPath(layersFile, cwd));
  const env = readRuntimeEnv(options.env, cwd);
  const certsDir = cluster.tls.dir
    ? path.resolve(path.dirname(clusterFile), cluster.tls.dir)
    : path.join(env.dataDir, 'certs');
  // Named here rather than imported from certs/: config is the domain core's root and imports no component.
  const auditKeyFile = cluster.audit.keyFile
    ? path.resolve(path.dirname(clusterFile), cluster.audit.keyFile)
    : path.join(certsDir, 'audit.key');
  return {
    cluster,
    layers,
    clusterFile,
    env,
    timing: resolveTiming(cluster, layers, env.profile),
    certsDir,
    auditKeyFile,
  };
}

export function resolveTiming(
  cluster: Pick<ClusterConfig, 'runtime' | 'consensus'>,
  layers: Pick<LayersConfig, 'demo' | 'gates'>,
  profile: RuntimeEnv['profile'],
): Timing {
  const demo = profile === 'demo';
  const { timeScale, minDurationMs } = layers.demo;
  const duration = demo ? (ms: number) => Math.max(minDurationMs, ms * timeScale) : (ms: number) => ms;
  const windowMs = demo ? cluster.runtime.demoWindowMs : cluster.runtime.windowMs;
  const epochIntervalMs = demo ? cluster.consensus.demoIntervalMs : cluster.consensus.intervalMs;
  return {
    windowMs,
    epochIntervalMs,
    duration,
    // A condition on a windowed figure that held for less than a window may be one mixed window (a burst, a change
    // half in it): holding it at least a window long means the whole window saw it. Consensus error is per epoch.
    holdMs: (t) => Math.max(duration(t.forMs), t.metric === 'consensus_error' ? 0 : windowMs),
    minSamples: demo ? layers.demo.minSamples : layers.gates.minSamples,
    // Never shorter than three epochs: the demo compresses 5 minutes to a second, epochs do not shrink with it.
    maxSampleAgeMs: Math.max(duration(layers.gates.maxSampleAgeMs), 3 * epochIntervalMs),
  };
}

export function readRuntimeEnv(env: Readonly<Record<string, string | undefined>>, cwd: string): RuntimeEnv {
  const profile = env.TRIAD_PROFILE ?? 'production';
  if (profile !== 'production' && profile !== 'demo') {
    throw new ConfigError([
      { where: 'env TRIAD_PROFILE', field: '', message: `expected "production" or "demo", received "${profile}"` },
    ]);
  }
  return {
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(env.TRIAD_REDIS_CA ? { redisCa: readCaFile(path.resolve(cwd, env.TRIAD_REDIS_CA), 'env TRIAD_REDIS_CA') } : {}),
    dataDir: path.resolve(cwd, env.TRIAD_DATA_DIR ?? '.triad'),
    logLevel: env.TRIAD_LOG_LEVEL ?? 'info',
    profile,
    testHooks: env.TRIAD_TEST_HOOKS === '1',
  };
}

function readCaFile(file: string, where: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError([{ where, field: '', message: `cannot read ${file}: ${(err as Error).message}` }]);
  }
}

function readConfigFile(file: string, cwd: string): string {
  try {
    const bytes = statSync(file).size;
    if (bytes > maxConfigFileBytes) {
      throw new ConfigError([
        {
          where: displayPath(file, cwd),
          field: '',
          message: `the file is ${bytes} bytes; config files are at most ${maxConfigFileBytes} bytes`,
        },
      ]);
    }
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ where: displayPath(file, cwd), field: '', message: reason }]);
  }
}

/** `config/layers.yaml` when the file is under the working directory, else the absolute path. */
function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
