import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot, runTriad } from '../../fixtures/cluster.js';

/**
 * Hostile files and flags through the real CLI process: each is refused with exit 2 and a message naming the file,
 * line and field (or the flag) and the bound, before anything starts or is sent.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'triad-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const instances = `instances:
  - { name: alpha, grpc_port: 50051, http_port: 9464 }
`;
const layersFile = path.join(repoRoot, 'config/layers.yaml');

function file(name: string, text: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
}

/** `triad node` parses and checks the whole config (cluster and layers) before it starts anything. */
const startNodeWith = (clusterFile: string) =>
  runTriad(['node', '--instance', 'alpha', '--config', clusterFile], { cwd: dir });

interface Case {
  name: string;
  run: () => ReturnType<typeof runTriad>;
  stderr: string | RegExp;
}

let layersFiles = 0;
/** The repository's layers.yaml with one edit, in a file of its own; the cluster file points at it. */
function layersWith(from: RegExp, to: string): string {
  const text = readFileSync(layersFile, 'utf8');
  if (!from.test(text)) throw new Error(`layers.yaml has no ${from}`);
  return file(`layers-${++layersFiles}.yaml`, text.replace(from, to));
}

const cases: Case[] = [
  {
    name: 'cluster.yaml: an alias bomb (2^40 strings if expanded)',
    run: () => {
      const levels = Array.from({ length: 40 }, (_, i) => `  l${i + 1}: &l${i + 1} [*l${i}, *l${i}]`);
      return startNodeWith(file('bomb.yaml', `${instances}x:\n  l0: &l0 "lol"\n${levels.join('\n')}\n`));
    },
    stderr: /bomb\.yaml: .*\(at most 50 alias uses\)/,
  },
  {
    name: 'cluster.yaml: a 2 MB file',
    run: () => startNodeWith(file('huge.yaml', `${instances}# ${'x'.repeat(2 * 1024 * 1024)}\n`)),
    stderr: /huge\.yaml: the file is \d+ bytes; config files are at most 1048576 bytes/,
  },
  {
    name: 'cluster.yaml: a heartbeat of 0ms',
    run: () => startNodeWith(file('zero.yaml', `${instances}heartbeat:\n  interval: 0ms\n`)),
    stderr: 'zero.yaml:4:13: heartbeat.interval: expected a duration within (0, 24d], received "0ms"',
  },
  {
    name: 'cluster.yaml: a consensus interval of 30 days (past what a timer holds)',
    run: () => startNodeWith(file('month.yaml', `${instances}consensus:\n  interval: 30d\n`)),
    stderr: 'month.yaml:4:13: consensus.interval: expected a duration within (0, 24d], received "30d"',
  },
  {
    name: 'cluster.yaml: a duration of 10^20 days',
    run: () => startNodeWith(file('forever.yaml', `${instances}heartbeat:\n  timeout: 100000000000000000000d\n`)),
    stderr: /forever\.yaml:4:12: heartbeat\.timeout: expected a duration within \(0, 24d\]/,
  },
  {
    name: 'cluster.yaml: a queue of 10^9 operations',
    run: () => startNodeWith(file('queue.yaml', `${instances}ingest:\n  queue_capacity: 1000000000\n`)),
    stderr: /queue\.yaml:4:19: ingest\.queue_capacity: .*1000000/,
  },
  {
    name: 'cluster.yaml: 65 instances',
    run: () =>
      startNodeWith(
        file(
          'crowd.yaml',
          `instances:\n${Array.from({ length: 65 }, (_, i) => `  - { name: n${i}, grpc_port: ${20000 + i}, http_port: ${30000 + i} }`).join('\n')}\n`,
        ),
      ),
    stderr: /crowd\.yaml:2:3: instances: expected at most 64 instances/,
  },
  {
    name: 'cluster.yaml: an edge weight of 1e308',
    run: () =>
      startNodeWith(
        file(
          'weight.yaml',
          `cluster:\n  topology: custom\n  edges: [[alpha, beta, 1e308]]\n${instances}  - { name: beta, grpc_port: 50052, http_port: 9465 }\n`,
        ),
      ),
    stderr: /weight\.yaml:3:\d+: cluster\.edges\.0\.2: expected a weight ≤ 1e12/,
  },
  {
    name: 'layers.yaml: a stage stable for 400 days',
    run: () =>
      startNodeWith(
        file(
          'stages.yaml',
          `cluster:\n  layers_file: ${layersWith(/stable_for: 30d/, 'stable_for: 400d')}\n${instances}`,
        ),
      ),
    stderr: /stages\.stable_for|stable_for: expected a duration within \(0, 366d\], received "400d"/,
  },
  {
    name: 'layers.yaml: a trigger held for 0ms',
    run: () =>
      startNodeWith(
        file('trigger.yaml', `cluster:\n  layers_file: ${layersWith(/for: 2d/, 'for: 0ms')}\n${instances}`),
      ),
    stderr: /rollback_triggers\.\d+\.for: expected a duration within \(0, 24d\], received "0ms"/,
  },
  {
    name: 'layers.yaml: a ratio of 1e300',
    run: () =>
      startNodeWith(
        file(
          'ratio.yaml',
          `cluster:\n  layers_file: ${layersWith(/expected: 2\.07/, 'expected: 1e300')}\n${instances}`,
        ),
      ),
    stderr: /layers\.\d+\.amplification\.expected: expected a ratio ≤ 1e6/,
  },
  {
    name: 'graph.json: a 9 MB file, refused before it is read',
    run: () =>
      runTriad(
        ['consensus', 'analyze', '--graph', file('big.json', `{"nodes": [], "pad": "${'x'.repeat(9 * 1024 * 1024)}"}`)],
        {
          cwd: dir,
        },
      ),
    stderr: /big\.json: the graph file is \d+ bytes, at most 8388608 are read/,
  },
  {
    name: 'graph.json: 501 nodes, refused before they are walked',
    run: () =>
      runTriad(
        [
          'consensus',
          'analyze',
          '--graph',
          file('wide.json', JSON.stringify({ nodes: Array.from({ length: 501 }, (_, i) => `n${i}`) })),
        ],
        { cwd: dir },
      ),
    stderr: 'wide.json: nodes: 501 nodes, at most 500',
  },
  {
    name: 'graph.json: a weight of 1e308',
    run: () =>
      runTriad(
        ['consensus', 'analyze', '--graph', file('heavy.json', '{"nodes": ["a", "b"], "edges": [["a", "b", 1e308]]}')],
        { cwd: dir },
      ),
    stderr: 'heavy.json: edges[0][2]: expected a finite weight > 0 and ≤ 1e12, received 1e+308',
  },
  {
    name: 'graph.json: 3,000 bad edges get 20 lines and a count, not 3,000',
    run: () =>
      runTriad(
        [
          'consensus',
          'analyze',
          '--graph',
          file(
            'bad-edges.json',
            JSON.stringify({ nodes: ['a', 'b'], edges: Array.from({ length: 3_000 }, (_, i) => ['a', `ghost${i}`]) }),
          ),
        ],
        { cwd: dir },
      ),
    stderr:
      /bad-edges\.json: 3000 problems:\n( {2}edges\[\d+\]: unknown node "ghost\d+" \(nodes: a, b\)\n){20} {2}… and 2980 more\n$/,
  },
  {
    name: 'flag: activate-layers --timeout 1e9',
    run: () => runTriad(['activate-layers', '--layers', 'R1', '--timeout', '1e9'], { cwd: dir }),
    stderr: '--timeout must be a number of seconds from 0 to 600, received "1e9"',
  },
  {
    name: 'flag: --correlation-id with spaces',
    run: () => runTriad(['activate-layers', '--layers', 'R1', '--correlation-id', 'a b'], { cwd: dir }),
    stderr: /--correlation-id may hold letters, digits/,
  },
  {
    name: 'flag: history --limit 1e9',
    run: () => runTriad(['history', '--limit', '1e9'], { cwd: dir }),
    stderr: '--limit must be from 1 to 1000, received "1e9"',
  },
  {
    name: 'flag: inject-fault --latency 30d',
    run: () => runTriad(['inject-fault', '--instance', 'alpha', '--layer', 'R1', '--latency', '30d'], { cwd: dir }),
    stderr: '--latency expects a duration from 0ms to 1m like "50ms" or "1s", received "30d"',
  },
  {
    name: 'flag: up --timeout 99999',
    run: () => runTriad(['up', '--timeout', '99999'], { cwd: dir }),
    stderr: '--timeout must be a number of seconds from 0 to 3600, received "99999"',
  },
  {
    name: 'flag: --target with a 300-character host',
    run: () => runTriad(['status', '--target', `${'h'.repeat(300)}:1`], { cwd: dir }),
    stderr: /--target expects host:port/,
  },
  {
    name: 'flag: consensus analyze --epsilon 5',
    run: () => runTriad(['consensus', 'analyze', '--topology', 'K3', '--epsilon', '5'], { cwd: dir }),
    stderr: '--epsilon 5: expected a number between 0 and 1 (exclusive)',
  },
];

describe('hostile files and flags through the CLI', () => {
  test.each(cases)('$name: exit 2, naming what and where', async ({ run, stderr }) => {
    const result = await run();
    expect(result.code, result.stderr).toBe(2);
    if (typeof stderr === 'string') expect(result.stderr).toContain(stderr);
    else expect(result.stderr).toMatch(stderr);
  });
});
