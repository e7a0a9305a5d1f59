import { afterAll, describe, expect, test } from 'vitest';
import { fixtures, scratchDir, triad as run } from './cli-harness.js';

const scratch = scratchDir();
afterAll(scratch.cleanup);
const triad = (args: string[], files: Record<string, string> = {}, cwd = scratch.dir) => run(args, cwd, files);

async function analyzeJson(args: string[], cwd?: string) {
  const result = await triad(['consensus', 'analyze', ...args, '--json'], {}, cwd);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const baseKeys = [
  'nodes',
  'laplacian',
  'eigenvalues',
  'lambda2',
  'lambdaMax',
  'connected',
  'components',
  'alphaStar',
  'step',
  'rho',
  'epsilon',
  'predictedRounds',
  'mixingTime',
];

describe('triad consensus analyze --json', () => {
  test('K3', async () => {
    const json = await analyzeJson(['--topology', 'K3']);
    expect(Object.keys(json)).toEqual(baseKeys);
    expect(json).toMatchObject({
      nodes: ['alpha', 'beta', 'gamma'],
      laplacian: [
        [2, -1, -1],
        [-1, 2, -1],
        [-1, -1, 2],
      ],
      eigenvalues: [0, 3, 3],
      lambda2: 3,
      lambdaMax: 3,
      connected: true,
      components: 1,
      rho: 0,
      epsilon: 1e-6,
      predictedRounds: 1,
    });
    expect(json.alphaStar).toBeCloseTo(1 / 3, 15);
    expect(json.step).toBe(json.alphaStar);
    expect(json.mixingTime).toBeCloseTo(Math.log(1e6) / 3, 12);
  });

  test('K5 with x0 converges in the one predicted round', async () => {
    const json = await analyzeJson(['--topology', 'K5', '--x0', '1,2,3,4,5']);
    expect(Object.keys(json)).toEqual([...baseKeys, 'iterations', 'finalError']);
    expect(json).toMatchObject({ lambda2: 5, lambdaMax: 5, alphaStar: 0.2, rho: 0, predictedRounds: 1, iterations: 1 });
    expect(json.finalError).toBeLessThan(1e-9);
  });

  test('ring:8 with --step, --epsilon and --t', async () => {
    const json = await analyzeJson([
      '--topology',
      'ring:8',
      '--x0=-4,0,0,0,0,0,0,4',
      '--step',
      '0.3',
      '--epsilon',
      '1e-3',
      '--t',
      '0.5',
    ]);
    const lambda2 = 2 - 2 * Math.cos((2 * Math.PI) / 8);
    expect(Object.keys(json)).toEqual([...baseKeys, 'iterations', 'finalError', 'xT']);
    expect(json.lambda2).toBeCloseTo(lambda2, 12);
    expect(json.lambdaMax).toBeCloseTo(4, 12);
    expect(json.step).toBe(0.3);
    expect(json.rho).toBeCloseTo(Math.max(Math.abs(1 - 0.3 * lambda2), Math.abs(1 - 0.3 * 4)), 12);
    expect(json.finalError).toBeLessThanOrEqual(1e-3);
    expect((json.xT as number[]).reduce((s, v) => s + v, 0)).toBeCloseTo(0, 9);
  });

  test('a weighted graph file, weight defaulting to 1 and x0 from the file', async () => {
    const json = await analyzeJson(['--graph', 'weighted-k3.json'], fixtures);
    expect(json.laplacian).toEqual([
      [2.5, -2, -0.5],
      [-2, 3, -1],
      [-0.5, -1, 1.5],
    ]);
    expect((json.eigenvalues as number[])[0]).toBe(0);
    expect(json.iterations).toBeGreaterThan(0);
  });

  test('a disconnected graph file: exit 0, nulls, and a note saying why it cannot converge', async () => {
    const json = await analyzeJson(['--graph', 'disconnected.json'], fixtures);
    expect(json).toMatchObject({
      connected: false,
      components: 2,
      lambda2: 0,
      alphaStar: null,
      step: null,
      predictedRounds: null,
      mixingTime: null,
      iterations: null,
    });
    expect(json.note).toBe(
      'the graph has 2 components ({alpha,beta} and {gamma}); information never crosses between them, so the nodes cannot agree',
    );
  });
});

describe('triad consensus analyze (human summary)', () => {
  test('K5', async () => {
    const { code, stdout } = await triad(['consensus', 'analyze', '--topology', 'K5', '--x0', '1,2,3,4,5', '--t', '1']);
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "K5: 5 nodes (alpha, beta, gamma, delta, epsilon), 10 edges, connected
        eigenvalues  0, 5, 5, 5, 5
        λ₂           5  (algebraic connectivity)
        λ_max        5
        step a       0.2  (optimal a* = 2/(λ₂+λ_max) = 0.2)
        ρ(a)         0  (factor the disagreement shrinks by each round)
        rounds       1 predicted to reach ε = 1e-6
        mixing time  2.7631  (continuous time, ln(1/ε)/λ₂)
        simulated    1 round, final error 0
        x(1)         2.98652, 2.99326, 3, 3.00674, 3.01348
      "
    `);
  });

  test('a disconnected graph prints the note', async () => {
    const { code, stdout } = await triad(['consensus', 'analyze', '--graph', 'disconnected.json'], {}, fixtures);
    expect(code).toBe(0);
    expect(stdout).toMatchInlineSnapshot(`
      "disconnected.json: 3 nodes (alpha, beta, gamma), 1 edge, 2 components
        eigenvalues  0, 0, 2
        λ₂           0  (algebraic connectivity)
        λ_max        2
        step a       -  (no step makes disconnected nodes agree)
        ρ(a)         -  (factor the disagreement shrinks by each round)
        rounds       never
        mixing time  never
        simulated    skipped: the nodes cannot agree
      note: the graph has 2 components ({alpha,beta} and {gamma}); information never crosses between them, so the nodes cannot agree
      "
    `);
  });
});

describe('triad consensus: help and subcommands', () => {
  test('--help works with and without the subcommand', async () => {
    const bare = await triad(['consensus', '--help']);
    const sub = await triad(['consensus', 'analyze', '--help']);
    expect(bare.code).toBe(0);
    expect(sub).toEqual(bare);
    expect(bare.stdout).toMatch(/usage: triad consensus analyze \(--topology <spec> \| --graph <file>\)/);
    expect(bare.stdout).toMatch(/--epsilon <ε> +target relative error, 0 < ε < 1 \(default: 1e-6\)/);
  });

  test.each([
    [
      ['consensus', 'analyse'],
      '[USAGE] unknown subcommand "analyse" (expected: analyze; see \'triad consensus --help\')',
    ],
    [['consensus', '--topology', 'K3'], "[USAGE] missing subcommand: expected 'triad consensus analyze' (see --help)"],
    [['consensus', 'analyze', 'extra'], '[USAGE] unexpected argument "extra" (see \'triad consensus --help\')'],
  ])('%j is a usage error', async (args, message) => {
    const { code, stderr } = await triad(args);
    expect(code).toBe(2);
    expect(stderr).toBe(`triad: ${message}\n`);
  });
});
