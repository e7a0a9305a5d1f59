// Epoch latency on loopback (issue #3): start of an epoch until every node holds its final value within ε, as the
// initiator measures it (consensus_time_seconds), p50/p99 over 1,000 epochs, on real K3 and K5 clusters.
import { callUnary, createServiceClient } from '../dist/protocol/index.js';
import { startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';

const epochs = Number(process.env.BENCH_EPOCHS ?? 1_000);
const warmup = 100;
// Interval epochs would interleave with ours: push them out of the measurement window.
const quiet = 'consensus:\n  interval: 1h\n';

/**
 * `gapMs` between epochs: 0 measures them back to back (each epoch's outcome is still being handled on every node
 * when the next starts: throughput interference); a few ms measures one epoch's latency as the leader's interval
 * epochs see it (they are 10 s apart).
 */
async function measure(names, gapMs) {
  const cluster = await tempCluster(names, quiet);
  const { up } = await startUp(cluster);
  try {
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
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    client.close();
    return {
      topology: `K${names.length}`,
      gapMs,
      epochs,
      notConverged,
      epochMs: summarize(epochMs),
      forceSyncCallMs: summarize(callMs),
    };
  } finally {
    await stopProcess(up);
    cluster.cleanup();
  }
}

const k3 = ['alpha', 'beta', 'gamma'];
const k5 = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const results = [await measure(k3, 10), await measure(k5, 10), await measure(k3, 0), await measure(k5, 0)];
const file = writeResult('consensus-epoch', results);
for (const r of results) {
  console.log(
    `${r.topology} ${r.gapMs ? `spaced ${r.gapMs} ms` : 'back to back'}: epoch p50 ${r.epochMs.p50} ms  p90 ${r.epochMs.p90} ms  p99 ${r.epochMs.p99} ms  (ForceConsensusSync call p50 ${r.forceSyncCallMs.p50} ms; ${r.notConverged} of ${r.epochs} not converged)`,
  );
}
console.log('goals: K3 p50 ≤ 1.5 ms, p99 ≤ 5 ms; K5 p50 ≤ 3 ms');
console.log(`written to ${file}`);
