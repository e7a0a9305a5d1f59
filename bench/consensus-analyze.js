// Times analyzeGraph (what `triad consensus analyze` runs, without process start) on random connected weighted graphs,
// then the whole command as an operator runs it (a fresh process, cold JIT) on the 200-node graph.
// Run after `npm run build`: node bench/consensus-analyze.js
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, triadBin, writeResult } from './lib.js';
import { analyzeGraph, createGraph, defaultNodeNames } from '../dist/consensus/index.js';

const sizes = [
  { nodes: 10, reps: 9 },
  { nodes: 50, reps: 7 },
  { nodes: 200, reps: 3 },
];
// Extra edges per node beyond the spanning tree: sparse like a real peer mesh, yet no longer a tree.
const extraDegree = 3;

/** mulberry32: a seeded generator, so every run times the same graphs. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random spanning tree (so it is connected) plus about extraDegree·n/2 random edges, weights in [0.5, 2). */
function randomConnectedGraph(n, seed) {
  const next = random(seed);
  const nodes = defaultNodeNames(n);
  const seen = new Set();
  const edges = [];
  const add = (i, j) => {
    const key = i < j ? `${i}-${j}` : `${j}-${i}`;
    if (i === j || seen.has(key)) return;
    seen.add(key);
    edges.push([nodes[i], nodes[j], 0.5 + 1.5 * next()]);
  };
  for (let i = 1; i < n; i++) add(i, Math.floor(next() * i));
  const extra = Math.floor((extraDegree * n) / 2);
  for (let k = 0; k < extra && n > 2; k++) add(Math.floor(next() * n), Math.floor(next() * n));
  return createGraph(nodes, edges);
}

function time(fn) {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

// Warm-up: the first call pays for JIT compilation of the solver; the CLI figure below includes that cost.
analyzeGraph(randomConnectedGraph(20, 1), { x0: Array.from({ length: 20 }, (_, i) => i) });

const results = [];
for (const { nodes, reps } of sizes) {
  const spectral = [];
  const withX0 = [];
  let sample;
  for (let r = 0; r < reps; r++) {
    const graph = randomConnectedGraph(nodes, 1000 * nodes + r);
    const next = random(r + 7);
    const x0 = graph.nodes.map(() => 100 * next());
    spectral.push(time(() => analyzeGraph(graph)));
    withX0.push(time(() => (sample = analyzeGraph(graph, { x0 }))));
  }
  results.push({
    nodes,
    edges: randomConnectedGraph(nodes, 1000 * nodes).edges.length,
    reps,
    spectralMs: { median: median(spectral), max: Math.max(...spectral) },
    withX0Ms: { median: median(withX0), max: Math.max(...withX0) },
    lastSample: { lambda2: sample.lambda2, lambdaMax: sample.lambdaMax, iterations: sample.iterations },
  });
}

const fmt = (ms) => ms.toFixed(1).padStart(9);
console.log('nodes  edges  reps  median ms   max ms  median ms (x0)  max ms (x0)');
for (const r of results) {
  console.log(
    `${String(r.nodes).padStart(5)}  ${String(r.edges).padStart(5)}  ${String(r.reps).padStart(4)}` +
      `${fmt(r.spectralMs.median)}${fmt(r.spectralMs.max)}${fmt(r.withX0Ms.median).padStart(16)}` +
      `${fmt(r.withX0Ms.max).padStart(13)}`,
  );
}

// The command end to end: process start, module loading, a cold solver, the JSON printed.
const cliGraph = randomConnectedGraph(200, 200_000);
const scratch = mkdtempSync(join(tmpdir(), 'triad-analyze-'));
const cliWallMs = [];
try {
  const file = join(scratch, 'graph.json');
  writeFileSync(file, JSON.stringify({ nodes: cliGraph.nodes, edges: cliGraph.edges }));
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    const run = spawnSync(process.execPath, [triadBin, 'consensus', 'analyze', '--graph', file, '--json'], {
      encoding: 'utf8',
    });
    cliWallMs.push(performance.now() - start);
    if (run.status !== 0) throw new Error(`triad consensus analyze exited ${run.status}: ${run.stderr}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const cli = { nodes: 200, edges: cliGraph.edges.length, wallMs: summarize(cliWallMs) };
console.log(
  `CLI, 200 nodes, ${cli.edges} edges: median ${cli.wallMs.p50.toFixed(0)} ms, max ${cli.wallMs.max.toFixed(0)} ms`,
);

console.log(`wrote ${writeResult('consensus-analyze', { graphs: results, cli })}`);
