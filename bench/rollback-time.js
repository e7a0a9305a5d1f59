// Rollback time against the DWCP promise (issue 20): from a latency_p99 trigger's condition holding past its `for:`
// to every node having applied the rollback, on a real three-node demo cluster (production durations compressed only
// through the demo profile). Each run is one fresh cluster: test/integration/canary/latency-rollback.test.ts injects
// +100 ms on alpha R3 and prints the figure, recomputed from the alert's evaluated_at − held_ms + hold_ms and the
// instance_state.applied_at of all three nodes. Needs PostgreSQL and Redis as the integration tests do, and dist/.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const root = fileURLToPath(new URL('..', import.meta.url));
const samples = [];
for (let i = 0; i < runs; i++) {
  const r = spawnSync('npx', ['vitest', 'run', 'test/integration/canary/latency-rollback.test.ts'], {
    cwd: root,
    encoding: 'utf8',
  });
  const match = /BENCH latency rollback: (\d+) ms/.exec(r.stdout + r.stderr);
  if (r.status !== 0 || !match) {
    console.error(`run ${i + 1}: failed (exit ${r.status})`);
    continue;
  }
  samples.push(Number(match[1]));
  console.log(`run ${i + 1}: ${match[1]} ms`);
}
samples.sort((a, b) => a - b);
if (samples.length === 0) process.exit(1);
console.log(
  JSON.stringify({
    runs: samples.length,
    min_ms: samples[0],
    median_ms: samples[Math.floor(samples.length / 2)],
    max_ms: samples.at(-1),
    promise_ms: 120_000,
  }),
);
