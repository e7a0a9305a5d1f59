// /metrics scrape time with the full metric set (issue #5): a demo cluster with all six layers active, the synthetic
// pack running and an error type present, then 500 sequential GET /metrics against one node, p50/p99.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';

const scrapes = Number(process.env.BENCH_SCRAPES ?? 500);
const triadBin = fileURLToPath(new URL('../bin/triad.js', import.meta.url));
const cluster = await tempCluster(['alpha', 'beta', 'gamma'], 'synthetic:\n  enabled: true\n');
const { up, env } = await startUp(cluster, ['--demo']);
const triad = (...args) =>
  spawnSync(process.execPath, [triadBin, ...args, '--config', cluster.clusterFile], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
try {
  const activated = triad('activate-layers', '--layers', 'R1,R2,R3,R4,R5,R6', '--force', '--reason', 'bench');
  if (activated.status !== 0) throw new Error(activated.stderr);
  triad('inject-fault', '--instance', 'alpha', '--layer', 'R3', '--error-rate', '0.01');
  await new Promise((r) => setTimeout(r, 15_000)); // a full window of operations; R6 has run on the leader
  triad('run-r6-orchestration');
  const url = `http://127.0.0.1:${cluster.instances[0].httpPort}/metrics`;
  let bytes = 0;
  let series = 0;
  for (let i = 0; i < 20; i++) await (await fetch(url)).text();
  const samples = [];
  for (let i = 0; i < scrapes; i++) {
    const start = process.hrtime.bigint();
    const text = await (await fetch(url)).text();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    bytes = text.length;
    series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  }
  const s = summarize(samples);
  const file = writeResult('metrics-scrape', { scrapes, bytes, series, scrapeMs: s });
  console.log(`/metrics scrape  p50 ${s.p50} ms  p99 ${s.p99} ms  (${series} series, ${bytes} bytes; goal ≤ 10 ms)`);
  console.log(`written to ${file}`);
} finally {
  await stopProcess(up, 'SIGTERM');
  cluster.cleanup();
}
