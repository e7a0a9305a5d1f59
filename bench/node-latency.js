// GetState unary latency on loopback (p50/p99 over 10,000 calls) against a bare grpc-js echo server as the floor,
// and `triad up` until every node is ready (median of 5). Issue #2's benchmark.
import { spawn } from 'node:child_process';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { connectTo, startUp, stopProcess, summarize, tempCluster, writeResult } from './lib.js';

const calls = Number(process.env.BENCH_CALLS ?? 10_000);
const warmup = 500;

function unaryLoop(client, method, request, n) {
  return new Promise((resolve, reject) => {
    const samples = [];
    let i = 0;
    const next = () => {
      const start = process.hrtime.bigint();
      client[method](request, { deadline: Date.now() + 5_000 }, (err) => {
        if (err) return reject(err);
        samples.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (++i < n) next();
        else resolve(samples);
      });
    };
    next();
  });
}

async function measureEcho() {
  const server = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.js', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const proto = loadPackageDefinition(loadSync(fileURLToPath(new URL('./echo.proto', import.meta.url))));
  const client = new proto.bench.Echo(`127.0.0.1:${port}`, credentials.createInsecure());
  // A reply of about GetState's size, so serialisation cost is comparable.
  const request = { text: 'x'.repeat(300) };
  await unaryLoop(client, 'Echo', request, warmup);
  const samples = await unaryLoop(client, 'Echo', request, calls);
  client.close();
  await stopProcess(server);
  return summarize(samples);
}

async function measureGetState() {
  const cluster = await tempCluster();
  const { up } = await startUp(cluster);
  try {
    const connections = await connectTo(cluster);
    const client = connections.client('Node', `127.0.0.1:${cluster.instances[0].grpcPort}`);
    await unaryLoop(client, 'GetState', {}, warmup);
    const samples = await unaryLoop(client, 'GetState', {}, calls);
    connections.close();
    return summarize(samples);
  } finally {
    await stopProcess(up);
    cluster.cleanup();
  }
}

async function measureUp(runs = 5) {
  const samples = [];
  for (let run = 0; run < runs; run++) {
    const cluster = await tempCluster();
    const started = process.hrtime.bigint();
    // Until `triad up` reports ready: embedded PostgreSQL started (initdb on this fresh data dir), migrated, three
    // nodes ready and the first consensus epoch converged.
    const { up } = await startUp(cluster);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    await stopProcess(up);
    cluster.cleanup();
  }
  return { ...summarize(samples), median: summarize(samples).p50, samples: samples.map((s) => Math.round(s)) };
}

const echo = await measureEcho();
const getState = await measureGetState();
const up = await measureUp();
const ratio = { p50: +(getState.p50 / echo.p50).toFixed(2), p99: +(getState.p99 / echo.p99).toFixed(2) };
const file = writeResult('node-latency', {
  calls,
  echoFloorMs: echo,
  getStateMs: getState,
  ratioToFloor: ratio,
  upUntilReadyMs: up,
});
console.log(`GetState  p50 ${getState.p50} ms  p99 ${getState.p99} ms   (${calls} calls, 3-node cluster)`);
console.log(`echo      p50 ${echo.p50} ms  p99 ${echo.p99} ms   (bare grpc-js floor)`);
console.log(`ratio     p50 ${ratio.p50}×  p99 ${ratio.p99}×   (goal ≤ 1.5×)`);
console.log(`triad up  median ${up.median} ms until all ready (runs: ${up.samples.join(', ')} ms)`);
console.log(`written to ${file}`);
