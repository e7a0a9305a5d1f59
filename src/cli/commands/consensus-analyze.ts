import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { jsonOption, optionalString, writeJson, type CliIO, type Command, type ParsedValues } from '../command.js';
import { TriadError } from '../../shared/index.js';
import type { ConsensusAnalysis, Graph, ResilienceAnalysis } from '../../consensus/index.js';

const subcommands = ['analyze'];

export const consensusCommand: Command = {
  name: 'consensus',
  usage:
    'triad consensus analyze (--topology <spec> | --graph <file>) [--x0 <v1,v2,…>] [--epsilon <ε>] [--step <a>] ' +
    '[--t <time>] [--resilience <f>] [--json]',
  positionals: [
    {
      name: 'analyze',
      description: 'print λ₂, λ_max, the optimal step a*, ρ(a), predicted rounds, and simulate rounds from x0',
    },
  ],
  options: {
    topology: {
      type: 'string',
      value: 'spec',
      description:
        'K<n> (complete), ring:<n> (cycle), star:<n> (hub + n−1 leaves) or path:<n>; unit weights, ' +
        'nodes alpha, beta, gamma, delta, epsilon, n6, …',
    },
    graph: {
      type: 'string',
      value: 'file',
      description: 'JSON {"nodes": [names], "edges": [[from, to, weight?], …], "x0": [numbers]?}; weight defaults to 1',
    },
    x0: {
      type: 'string',
      value: 'v1,v2,…',
      description:
        'initial values, one per node (overrides the file\'s "x0"): simulates the rounds, at most 10⁶; ' +
        'write --x0=-1,2,3 for a leading minus',
    },
    epsilon: { type: 'string', value: 'ε', description: 'target relative error, 0 < ε < 1', default: '1e-6' },
    step: {
      type: 'string',
      value: 'a',
      description: 'step size for x ← x − a·Lx (default a* = 2/(λ₂+λ_max)); a diverging step is refused',
    },
    t: { type: 'string', value: 'time', description: 'also compute x(t) = e^(−Lt)·x0, the continuous-time state' },
    resilience: {
      type: 'string',
      value: 'f',
      description:
        'whether W-MSR with f (consensus.resilience.f) tolerates f lying nodes: (f+1, f+1)-robustness and, for liars ' +
        'that tell each neighbour something different, (f+1)-robustness of what any f removed nodes leave (≤ 12 nodes)',
    },
    ...jsonOption,
  },
  examples: [
    'triad consensus analyze --topology K5',
    'triad consensus analyze --topology ring:8 --x0 1,2,3,4,5,6,7,8 --json',
    'triad consensus analyze --graph graph.json --epsilon 1e-9 --t 0.5',
    'triad consensus analyze --topology K5 --resilience 1',
  ],
  async run(values, positionals, io) {
    const sub = positionals[0];
    if (sub === undefined) {
      throw new TriadError('USAGE', "missing subcommand: expected 'triad consensus analyze' (see --help)");
    }
    if (!subcommands.includes(sub)) {
      throw new TriadError(
        'USAGE',
        `unknown subcommand "${sub}" (expected: ${subcommands.join(', ')}; see 'triad consensus --help')`,
      );
    }
    return analyze(values, io);
  },
};

async function analyze(values: ParsedValues, io: CliIO): Promise<number> {
  const topology = optionalString(values, 'topology');
  const graphFile = optionalString(values, 'graph');
  if ((topology === undefined) === (graphFile === undefined)) {
    throw new TriadError(
      'USAGE',
      `${topology === undefined ? 'missing' : 'conflicting'} input: give exactly one of --topology <spec> or ` +
        "--graph <file> (see 'triad consensus --help')",
    );
  }
  const epsilon = numberFlag(values, 'epsilon') ?? 1e-6;
  if (!(epsilon > 0 && epsilon < 1)) {
    throw new TriadError('INPUT_INVALID', `--epsilon ${epsilon}: expected a number between 0 and 1 (exclusive)`);
  }
  const step = numberFlag(values, 'step');
  const t = numberFlag(values, 't');
  if (t !== undefined && t < 0) throw new TriadError('INPUT_INVALID', `--t ${t}: expected a time ≥ 0`);
  const flagX0 = numberList(values, 'x0');
  const f = numberFlag(values, 'resilience');
  if (f !== undefined && !(Number.isInteger(f) && f >= 0 && f <= 5)) {
    throw new TriadError('INPUT_INVALID', `--resilience ${f}: expected a whole number of liars from 0 to 5`);
  }

  // mathjs takes about half a second to load: only this command pays for it, not `triad status`.
  const consensus = await import('../../consensus/index.js');
  let graph: Graph;
  let x0 = flagX0;
  if (graphFile !== undefined) {
    const parsed = consensus.parseGraphFile(
      graphFile,
      await readGraphText(graphFile, io.cwd, consensus.MAX_GRAPH_FILE_BYTES),
    );
    graph = parsed.graph;
    x0 ??= parsed.x0;
  } else {
    graph = consensus.graphFromTopology(topology ?? '');
  }
  if (flagX0) consensus.checkInitialValues(flagX0, graph.nodes, '--x0');
  if (t !== undefined && !x0) {
    throw new TriadError('USAGE', '--t needs initial values: pass --x0 or put "x0" in the graph file');
  }
  const analysis = consensus.analyzeGraph(graph, {
    epsilon,
    ...(step !== undefined ? { step } : {}),
    ...(x0 ? { x0 } : {}),
    ...(t !== undefined ? { t } : {}),
  });
  const resilience = f !== undefined ? consensus.analyzeResilience(graph, f) : undefined;
  if (values.json) writeJson(io, resilience ? { ...analysis, resilience } : analysis);
  else {
    io.stdout.write(render(analysis, graphFile ?? topology ?? '', graph.edges.length, t));
    if (resilience) io.stdout.write(renderResilience(resilience));
  }
  return 0;
}

async function readGraphText(file: string, cwd: string, maxBytes: number): Promise<string> {
  try {
    const { size } = await stat(resolve(cwd, file));
    if (size > maxBytes) {
      throw new TriadError('INPUT_INVALID', `${file}: the graph file is ${size} bytes, at most ${maxBytes} are read`);
    }
    return await readFile(resolve(cwd, file), 'utf8');
  } catch (err) {
    if (err instanceof TriadError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new TriadError('INPUT_INVALID', `${file}: cannot read the graph file: ${reason}`, { cause: err });
  }
}

function numberFlag(values: ParsedValues, name: string): number | undefined {
  const raw = optionalString(values, name);
  if (raw === undefined) return undefined;
  const value = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(value)) throw new TriadError('USAGE', `--${name}: expected a number, received "${raw}"`);
  return value;
}

function numberList(values: ParsedValues, name: string): number[] | undefined {
  const raw = optionalString(values, name);
  if (raw === undefined) return undefined;
  return raw.split(',').map((part, i) => {
    const value = part.trim() === '' ? NaN : Number(part);
    if (!Number.isFinite(value)) {
      throw new TriadError('INPUT_INVALID', `--${name}[${i}]: expected a finite number, received "${part.trim()}"`);
    }
    return value;
  });
}

function num(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  const rounded = Number(v.toPrecision(6));
  return rounded !== 0 && Math.abs(rounded) < 1e-3 ? rounded.toExponential() : String(rounded);
}

function list(values: readonly (number | string)[], limit = 10): string {
  const shown = values.slice(0, limit).map((v) => (typeof v === 'number' ? num(v) : v));
  return values.length > limit ? `${shown.join(', ')}, … (${values.length} in all)` : shown.join(', ');
}

function render(a: ConsensusAnalysis, source: string, edges: number, t: number | undefined): string {
  const n = a.nodes.length;
  const shape = a.connected ? 'connected' : `${a.components} components`;
  const rows: [string, string][] = [
    ['eigenvalues', list(a.eigenvalues)],
    ['λ₂', `${num(a.lambda2)}  (algebraic connectivity)`],
    ['λ_max', num(a.lambdaMax)],
    [
      'step a',
      a.step === null
        ? '-  (no step makes disconnected nodes agree)'
        : `${num(a.step)}  (optimal a* = 2/(λ₂+λ_max) = ${num(a.alphaStar)})`,
    ],
    ['ρ(a)', `${num(a.rho)}  (factor the disagreement shrinks by each round)`],
    ['rounds', a.predictedRounds === null ? 'never' : `${a.predictedRounds} predicted to reach ε = ${num(a.epsilon)}`],
    ['mixing time', a.mixingTime === null ? 'never' : `${num(a.mixingTime)}  (continuous time, ln(1/ε)/λ₂)`],
  ];
  if (a.iterations !== undefined) {
    rows.push([
      'simulated',
      a.iterations === null
        ? 'skipped: the nodes cannot agree'
        : `${a.iterations} round${a.iterations === 1 ? '' : 's'}, final error ${num(a.finalError)}`,
    ]);
  }
  if (a.xT) rows.push([`x(${t ?? ''})`, list(a.xT)]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `${source}: ${n} node${n === 1 ? '' : 's'} (${list(a.nodes, 8)}), ${edges} edge${edges === 1 ? '' : 's'}, ${shape}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    ...(a.note ? [`note: ${a.note}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

function renderResilience(r: ResilienceAnalysis): string {
  const verdict = r.tolerates ? 'tolerates' : 'does not tolerate';
  return (
    `  resilience  f = ${r.f}: (${r.f + 1}, ${r.f + 1})-robust ${r.robust ? 'yes' : 'no'}; ` +
    `W-MSR ${verdict} ${r.f} lying node${r.f === 1 ? '' : 's'}\n` +
    `  why         ${r.reason}\n`
  );
}
