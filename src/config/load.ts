import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, projectRoot } from '../shared/index.js';
import { parseClusterConfig, type ClusterConfig } from './cluster.js';
import { parseLayersConfig, type LayersConfig } from './layers.js';

export interface TriadConfig {
  cluster: ClusterConfig;
  layers: LayersConfig;
  /** Absolute path of cluster.yaml: passed to child processes so they read the very same file. */
  clusterFile: string;
  env: RuntimeEnv;
}

/** Everything triad reads from the environment, read here once (STYLE §3). */
export interface RuntimeEnv {
  databaseUrl?: string;
  redisUrl?: string;
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
  });
  const layersFile = path.resolve(path.dirname(clusterFile), cluster.layersFile);
  const layers = parseLayersConfig(readConfigFile(layersFile, cwd), displayPath(layersFile, cwd));
  return { cluster, layers, clusterFile, env: readRuntimeEnv(options.env, cwd) };
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
    dataDir: path.resolve(cwd, env.TRIAD_DATA_DIR ?? '.triad'),
    logLevel: env.TRIAD_LOG_LEVEL ?? 'info',
    profile,
    testHooks: env.TRIAD_TEST_HOOKS === '1',
  };
}

function readConfigFile(file: string, cwd: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ where: displayPath(file, cwd), field: '', message: reason }]);
  }
}

/** `config/layers.yaml` when the file is under the working directory, else the absolute path. */
function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/**
 * The duration in force for a configured one: as written in production; under the demo profile multiplied by
 * `demo.time_scale` with `demo.min_duration` as a floor, so "7 days stable" passes in seconds.
 */
export function durationScaler(config: Pick<TriadConfig, 'layers' | 'env'>): (ms: number) => number {
  if (config.env.profile !== 'demo') return (ms) => ms;
  const { timeScale, minDurationMs } = config.layers.demo;
  return (ms) => Math.max(minDurationMs, ms * timeScale);
}
