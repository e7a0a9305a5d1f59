// Epoch latency on loopback (issue #3): start of an epoch until every node holds its final value within ε, as the
// initiator measures it (consensus_time_seconds), p50/p99 over 1,000 epochs, on real K3 and K5 clusters.
import { callUnary, createServiceClient } from '../dist/protocol/index.js';
import { isReady, spawnTriad, stopProcess, summarize, tempCluster, waitUntil, writeResult } from './lib.js';

const epochs = Number(process.env.BENCH_EPOCHS ?? 1_000);
const warmup = 100;
// Interval epochs would interleave with ours: push them out of the measurement window.
const quiet = 'consensus:\n  interval: 1h\n';

async function measure(names) {
  const cluster = await tempCluster(names, quiet);
  const nodes = cluster.instances.map((i) =>
    spawnTriad(['node', '--instance', i.name, '--config', cluster.clusterFile], { TRIAD_DATA_DIR: cluster.dir }),
  );
  try {
    await waitUntil(
      async () => (await Promise.all(cluster.instances.map((i) => isReady(`127.0.0.1:${i.httpPort}`)))).every(Boolean),
      30_000,
      'cluster ready',
    );
    const client = createServiceClient('Admin', `127.0.0.1:${cluster.instances[0].grpcPort}`);
    const epochMs = [];
    const callMs = [];
    let notConverged = 0;
    for (let i = 0; i < warmup + epochs; i++) {
      const start = process.hrtime.bigint();
      const outcome = await callUnary(client, 'ForceConsensusSync', { instances: [] }, { deadlineMs: 10_000 });
      const call = Number(process.hrtime.bigint() - start) / 1e6;
      if (i < warmup) continue;
      if (!outcome.converged) notConverged++;
      epochMs.push(outcome.time_seconds * 1000);
      callMs.push(call);
    }
    client.close();
    return {
      topology: `K${names.length}`,
      epochs,
      notConverged,
      epochMs: summarize(epochMs),
      forceSyncCallMs: summarize(callMs),
    };
  } finally {
    await Promise.all(nodes.map((n) => stopProcess(n)));
    cluster.cleanup();
  }
}

const k3 = await measure(['alpha', 'beta', 'gamma']);
const k5 = await measure(['alpha', 'beta', 'gamma', 'delta', 'epsilon']);
const file = writeResult('consensus-epoch', [k3, k5]);
for (const r of [k3, k5]) {
  console.log(
    `${r.topology}: epoch p50 ${r.epochMs.p50} ms  p99 ${r.epochMs.p99} ms  (whole ForceConsensusSync call p50 ${r.forceSyncCallMs.p50} ms; ${r.notConverged} of ${r.epochs} not converged)`,
  );
}
console.log('goals: K3 p50 ≤ 1.5 ms, p99 ≤ 5 ms; K5 p50 ≤ 3 ms');
console.log(`written to ${file}`);
