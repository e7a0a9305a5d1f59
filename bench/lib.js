// Shared helpers for the benchmarks: run against the built CLI (dist/), on loopback, bounded in count and time.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../', import.meta.url));
export const triadBin = path.join(root, 'bin/triad.js');

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function summarize(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0]),
    max: round(sorted.at(-1)),
    mean: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
  };
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Writes bench/results/<name>.json, the file docs/benchmarks.md quotes. */
export function writeResult(name, results) {
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: machine(), results }, null, 2)}\n`,
  );
  return file;
}

export async function freePorts(count) {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A cluster.yaml on free ports in a temp dir (removed by cleanup()). */
export async function tempCluster(names = ['alpha', 'beta', 'gamma'], extraYaml = '') {
  const ports = await freePorts(names.length * 2);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'triad-bench-'));
  const instances = names.map((name, i) => ({ name, grpcPort: ports[2 * i], httpPort: ports[2 * i + 1] }));
  const yaml = [
    'cluster:',
    '  name: bench',
    `  layers_file: ${JSON.stringify(path.join(root, 'config/layers.yaml'))}`,
    'instances:',
    ...instances.map(
      (i) => `  - { name: ${i.name}, host: 127.0.0.1, grpc_port: ${i.grpcPort}, http_port: ${i.httpPort} }`,
    ),
    extraYaml,
  ].join('\n');
  const clusterFile = path.join(dir, 'cluster.yaml');
  writeFileSync(clusterFile, `${yaml}\n`);
  return { dir, clusterFile, instances, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function spawnTriad(args, env = {}) {
  return spawn(process.execPath, [triadBin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function isReady(http) {
  try {
    const res = await fetch(`http://${http}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

export function stopProcess(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill(signal);
  });
}

/**
 * `triad up --json` on a temp cluster as a user runs it (embedded PostgreSQL: no DATABASE_URL), resolved once every
 * node is ready; returns the process (stop it with stopProcess), the env the CLI needs to reach it, and the URL of
 * the embedded database (for checking what was stored). A cluster that exits or is not ready in 60 s is a failed
 * start: the promise rejects (and the process is killed), so the benchmark exits non-zero.
 */
export async function startUp(cluster, extraArgs = []) {
  chmodSync(cluster.dir, 0o755); // the embedded server runs as nobody and must enter the data dir
  const env = { TRIAD_DATA_DIR: cluster.dir, DATABASE_URL: '' };
  const up = spawnTriad(['up', '--json', ...extraArgs, '--config', cluster.clusterFile], env);
  let stderr = '';
  up.stderr.on('data', (c) => (stderr = (stderr + c).slice(-2_000)));
  const storagePort = await new Promise((resolve, reject) => {
    let buffer = '';
    let port;
    const fail = (why) => {
      clearTimeout(timer);
      up.kill('SIGTERM'); // SIGTERM: `triad up` then stops its nodes and its embedded PostgreSQL too
      reject(new Error(`triad up failed to start: ${why}${stderr ? `\n${stderr}` : ''}`));
    };
    const timer = setTimeout(() => fail('cluster not ready in 60 s'), 60_000);
    const onExit = (code, signal) => fail(`exited (${signal ?? code}) before the cluster was ready`);
    up.once('exit', onExit);
    up.stdout.on('data', (c) => {
      buffer += c;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) {
        let event = {};
        try {
          event = JSON.parse(line);
        } catch {
          // not an event line
        }
        if (event.type === 'storage') port = event.port;
        if (event.type === 'ready') {
          clearTimeout(timer);
          up.off('exit', onExit);
          resolve(port);
        }
      }
    });
  });
  // The database `triad up` creates on its embedded server (src/storage/embedded-cluster.ts: embeddedDatabase), with the
  // password it generated beside the data.
  const password = storagePort ? readFileSync(path.join(cluster.dir, 'postgres.password'), 'utf8').trim() : '';
  const databaseUrl = storagePort
    ? `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${storagePort}/triad`
    : undefined;
  return { up, env, databaseUrl };
}

/**
 * Connections to a cluster `startUp` started, the way the CLI makes them: mutual TLS with the local certificate of
 * `role` from the cluster's certs dir, or plaintext for a cluster started with --insecure.
 */
export async function connectTo(cluster, { role = 'operator', insecure = false } = {}) {
  const { createConnections, mutualTlsCredentials, plaintextCredentials } =
    await import('../dist/connections/index.js');
  if (insecure) return createConnections(plaintextCredentials());
  const certs = path.join(cluster.dir, 'certs');
  return createConnections(
    mutualTlsCredentials(
      {
        ca: path.join(certs, 'ca.crt'),
        cert: path.join(certs, 'clients', `${role}-local.crt`),
        key: path.join(certs, 'clients', `${role}-local.key`),
      },
      3_600_000,
    ),
  );
}
