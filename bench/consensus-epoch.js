// Epoch latency on loopback (issue #3): start of an epoch until every node holds its final value within ε, as the
// initiator measures it (consensus_time_seconds), p50/p99 over 1,000 epochs, on real K3 and K5 clusters.
//
// Beside each figure, in the same run and on the same cores, the floor under it (bench/epoch-floor.js): the same
// messages among the same number of processes with nothing of triad around them — over bare grpc-js with triad's
// proto, and over plain TCP sockets — and a 3-member etcd's put-until-seen-by-all (when `etcd` is installed), the
// reference the issue names. Absolute figures move a lot between machines; the ratio to the floor does not.
import { spawnSync } from 'node:child_process';
import { callUnary } from '../dist/protocol/index.js';
import { measureFloor } from './epoch-floor.js';
import { measureEtcd } from './etcd.js';
import { connectTo, startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';

const epochs = Number(process.env.BENCH_EPOCHS ?? 1_000);
const warmup = 100;
// Interval epochs would interleave with ours: push them out of the measurement window.
const quiet = 'consensus:\n  interval: 1h\n';

/**
 * triad: ForceConsensusSync on the first node, `epochs` times after `warmup`; each outcome's time_seconds. With mutual
 * TLS (the default) or plaintext (`triad up --insecure`).
 */
async function measureTriad(names, gapMs, insecure) {
  const cluster = await tempCluster(names, quiet);
  const { up } = await startUp(cluster, insecure ? ['--insecure'] : []);
  try {
    const connections = await connectTo(cluster, { insecure });
    const client = connections.client('Admin', `127.0.0.1:${cluster.instances[0].grpcPort}`);
    const epochMs = [];
    let notConverged = 0;
    for (let i = 0; i < warmup + epochs; i++) {
      const outcome = await callUnary(client, 'ForceConsensusSync', { instances: [] }, { deadlineMs: 10_000 });
      if (i >= warmup) {
        if (!outcome.converged) notConverged++;
        epochMs.push(outcome.time_seconds * 1000);
      }
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    connections.close();
    return { epochMs, notConverged };
  } finally {
    await stopProcess(up);
    cluster.cleanup();
  }
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;

/**
 * `gapMs` between epochs: 10 ms measures one epoch as the leader's interval epochs see it (they are 10 s apart: the
 * processes are idle when it starts); 0 measures them back to back (throughput: the previous epoch's outcome is
 * still being handled when the next starts).
 */
async function measure(members, gapMs) {
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'].slice(0, members);
  const mtls = await measureTriad(names, gapMs, false);
  const plain = await measureTriad(names, gapMs, true);
  const grpc = summarize(await measureFloor({ members, transport: 'grpc', epochs, warmup, gapMs }));
  const grpcTls = summarize(await measureFloor({ members, transport: 'grpc-tls', epochs, warmup, gapMs }));
  const tcp = summarize(await measureFloor({ members, transport: 'tcp', epochs, warmup, gapMs }));
  const epochMs = summarize(mtls.epochMs);
  const plaintextMs = summarize(plain.epochMs);
  return {
    topology: `K${members}`,
    gapMs,
    epochs,
    notConverged: mtls.notConverged + plain.notConverged,
    epochMs,
    plaintextMs,
    grpcTlsFloorMs: grpcTls,
    grpcFloorMs: grpc,
    tcpFloorMs: tcp,
    // The issue's goals: mutual TLS within 1.15× of a bare grpc-js TLS floor; plaintext beside its own floor.
    ratioToGrpcTlsFloor: { p50: ratio(epochMs.p50, grpcTls.p50), p99: ratio(epochMs.p99, grpcTls.p99) },
    ratioToGrpcFloor: { p50: ratio(plaintextMs.p50, grpc.p50), p99: ratio(plaintextMs.p99, grpc.p99) },
  };
}

const results = [];
for (const gapMs of [10, 0]) for (const members of [3, 5]) results.push(await measure(members, gapMs));

const hasEtcd = spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
const etcd = hasEtcd ? summarize(await measureEtcd(epochs)) : null;

const file = writeResult('consensus-epoch', { epochs: results, etcd3PutSeenByAllMs: etcd });
const row = (label, s) =>
  `${label.padEnd(14)} p50 ${s.p50.toFixed(2)} ms  p90 ${s.p90.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms`;
for (const r of results) {
  console.log(
    `${r.topology} ${r.gapMs ? `spaced ${r.gapMs} ms` : 'back to back'} (${r.notConverged} of ${r.epochs} not converged)`,
  );
  console.log(`  ${row('triad mTLS', r.epochMs)}`);
  console.log(
    `  ${row('grpc-js TLS', r.grpcTlsFloorMs)}   triad ÷ floor: p50 ${r.ratioToGrpcTlsFloor.p50}×  p99 ${r.ratioToGrpcTlsFloor.p99}×`,
  );
  console.log(`  ${row('triad plain', r.plaintextMs)}`);
  console.log(
    `  ${row('grpc-js plain', r.grpcFloorMs)}   triad ÷ floor: p50 ${r.ratioToGrpcFloor.p50}×  p99 ${r.ratioToGrpcFloor.p99}×`,
  );
  console.log(`  ${row('tcp floor', r.tcpFloorMs)}`);
}
console.log(
  etcd ? row('etcd 3 put→all', etcd) : 'etcd: not installed (apt-get install etcd-server), reference skipped',
);
console.log('goals: mTLS epoch p50 ≤ 1.15× the bare grpc-js TLS floor (issue 12); ratios to the floors (issue 17)');
console.log(`written to ${file}`);
