import { afterAll, describe, expect, test } from 'vitest';
import { scratchDir, triad as run } from './cli-harness.js';

const scratch = scratchDir();
afterAll(scratch.cleanup);
const triad = (args: string[], files: Record<string, string> = {}) => run(args, scratch.dir, files);

const k3 = (edges: string, extra = '') => `{"nodes": ["alpha", "beta", "gamma"], "edges": ${edges}${extra}}`;

describe('bad input: exit 2 and a message naming what and where', () => {
  test.each([
    [
      'unknown node',
      k3('[["alpha", "beta"], ["beta", "gamma"], ["gamma", "delta", 1]]'),
      'graph.json: edges[2]: unknown node "delta" (nodes: alpha, beta, gamma)',
    ],
    [
      'self-loop',
      k3('[["alpha", "alpha", 1]]'),
      'graph.json: edges[0]: self-loop on "alpha" (an edge must join two different nodes)',
    ],
    [
      'negative weight',
      k3('[["alpha", "beta", -1]]'),
      'graph.json: edges[0][2]: expected a finite weight > 0 and ≤ 1e12, received -1',
    ],
    [
      'zero weight',
      k3('[["alpha", "beta", 0]]'),
      'graph.json: edges[0][2]: expected a finite weight > 0 and ≤ 1e12, received 0',
    ],
    [
      'infinite weight',
      k3('[["alpha", "beta", 1e999]]'),
      'graph.json: edges[0][2]: expected a finite weight > 0 and ≤ 1e12, received Infinity',
    ],
    [
      '"NaN" weight',
      k3('[["alpha", "beta", "NaN"]]'),
      'graph.json: edges[0][2]: expected a weight > 0 (number), received "NaN"',
    ],
    [
      'duplicate edge, reversed',
      k3('[["alpha", "beta"], ["beta", "alpha"]]'),
      'graph.json: edges[1]: duplicate edge beta–alpha (first at edges[0]; edges are undirected)',
    ],
    ['empty graph', '{"nodes": [], "edges": []}', 'graph.json: nodes: the graph has no nodes (expected at least one)'],
    [
      'duplicate node',
      '{"nodes": ["alpha", "beta", "alpha"]}',
      'graph.json: nodes[2]: duplicate node "alpha" (first at nodes[0])',
    ],
    [
      'x0 too short',
      k3('[]', ', "x0": [1, 2]'),
      'graph.json: x0: has 2 values but the graph has 3 nodes (alpha, beta, gamma)',
    ],
    ['x0 not finite', k3('[]', ', "x0": [1, null, 3]'), 'graph.json: x0[1]: expected a finite number, received null'],
    ['unknown key', k3('[]', ', "weights": [1]'), 'graph.json: weights: unknown key (allowed: nodes, edges, x0)'],
    [
      'malformed edge',
      k3('[["alpha"]]'),
      'graph.json: edges[0]: expected [from, to] or [from, to, weight], received an array of 1',
    ],
    [
      'not an object',
      '[1, 2]',
      'graph.json: expected a JSON object like {"nodes": ["alpha", "beta"], "edges": [["alpha", "beta", 1]]}, received an array of 2',
    ],
    [
      'truncated JSON',
      '{"nodes": ["alpha",\n  "beta"',
      "graph.json:2:9: malformed JSON: Expected ',' or ']' after array element",
    ],
  ])('graph.json with %s', async (_what, text, message) => {
    const { code, stderr } = await triad(['consensus', 'analyze', '--graph', 'graph.json'], { 'graph.json': text });
    expect(code).toBe(2);
    expect(stderr).toBe(`triad: [INPUT_INVALID] ${message}\n`);
  });

  test('several problems in one file are listed together', async () => {
    const text = k3('[["alpha", "delta"], ["beta", "beta", 2]]', ', "x0": ["a"]');
    const { code, stderr } = await triad(['consensus', 'analyze', '--graph', 'graph.json'], { 'graph.json': text });
    expect(code).toBe(2);
    expect(stderr).toMatchInlineSnapshot(`
      "triad: [INPUT_INVALID] graph.json: 3 problems:
        edges[0]: unknown node "delta" (nodes: alpha, beta, gamma)
        edges[1]: self-loop on "beta" (an edge must join two different nodes)
        x0[0]: expected a finite number, received "a"
      "
    `);
  });

  test.each([
    [
      ['--topology', 'K3', '--graph', 'g.json'],
      'USAGE',
      "conflicting input: give exactly one of --topology <spec> or --graph <file> (see 'triad consensus --help')",
    ],
    [
      [],
      'USAGE',
      "missing input: give exactly one of --topology <spec> or --graph <file> (see 'triad consensus --help')",
    ],
    [
      ['--topology', 'K3', '--x0', '1,2'],
      'INPUT_INVALID',
      '--x0 has 2 values but the graph has 3 nodes (alpha, beta, gamma)',
    ],
    [['--topology', 'K3', '--x0', '1,abc,3'], 'INPUT_INVALID', '--x0[1]: expected a finite number, received "abc"'],
    [['--topology', 'K3', '--x0', '1,,3'], 'INPUT_INVALID', '--x0[1]: expected a finite number, received ""'],
    [
      ['--topology', 'K3', '--epsilon', '0'],
      'INPUT_INVALID',
      '--epsilon 0: expected a number between 0 and 1 (exclusive)',
    ],
    [
      ['--topology', 'K3', '--epsilon', '1'],
      'INPUT_INVALID',
      '--epsilon 1: expected a number between 0 and 1 (exclusive)',
    ],
    [['--topology', 'K3', '--epsilon', 'tiny'], 'USAGE', '--epsilon: expected a number, received "tiny"'],
    [['--topology', 'K3', '--t', '1'], 'USAGE', '--t needs initial values: pass --x0 or put "x0" in the graph file'],
    [['--topology', 'K3', '--x0', '1,2,3', '--t=-2'], 'INPUT_INVALID', '--t -2: expected a time ≥ 0'],
    [
      ['--topology', 'K3', '--step', '1'],
      'INPUT_INVALID',
      'step a = 1 diverges: ρ(a) = max(|1 − aλ₂|, |1 − aλ_max|) = 2 ≥ 1; the stable range is 0 < a < 2/λ_max = 0.666667; optimal a* = 0.333333',
    ],
    [
      ['--topology', 'K3', '--step', '0'],
      'INPUT_INVALID',
      'step a = 0 never converges: ρ(a) = max(|1 − aλ₂|, |1 − aλ_max|) = 1 ≥ 1; the stable range is 0 < a < 2/λ_max = 0.666667; optimal a* = 0.333333',
    ],
    [['--graph', 'missing.json'], 'INPUT_INVALID', 'missing.json: cannot read the graph file: no such file'],
  ])('%j', async (args, code, message) => {
    const result = await triad(['consensus', 'analyze', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`triad: [${code}] ${message}\n`);
  });

  test('a malformed --topology names the accepted forms', async () => {
    const { code, stderr } = await triad(['consensus', 'analyze', '--topology', 'K-5']);
    expect(code).toBe(2);
    expect(stderr).toMatchInlineSnapshot(`
      "triad: [USAGE] unknown topology "K-5": expected K<n> (complete, e.g. K5), ring:<n> (cycle, n ≥ 3), star:<n> (one hub and n−1 leaves, n ≥ 2) or path:<n>
      "
    `);
  });

  test('with --json the error is also printed as JSON on stdout', async () => {
    const { code, stdout } = await triad(['consensus', 'analyze', '--topology', 'K5', '--step', '0.5', '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({
      error: { code: 'INPUT_INVALID', message: expect.stringMatching(/^step a = 0.5 diverges/) as string },
    });
  });
});
