import type { ClusterConfig } from '../config/index.js';
import { TriadError } from '../shared/index.js';

/** An undirected edge with its weight w_ij > 0 (unitless: how strongly i listens to j). */
export type Edge = readonly [from: string, to: string, weight: number];

/** An undirected weighted graph; node order fixes the row order of its Laplacian. */
export interface Graph {
  readonly nodes: readonly string[];
  readonly edges: readonly Edge[];
}

/** A problem in a graph, located by a JSON-style path into the input (`edges[2]`, `nodes[1]`). */
export interface GraphIssue {
  path: string;
  message: string;
}

export type StandardShape = 'complete' | 'ring' | 'star' | 'path';

/**
 * The symmetric eigen-solver costs O(n³): about 0.1 s at 200 nodes, 1.5 s at 500, and the simulated iteration grows
 * with n too. The cap turns a typo like K50000 into a clear error instead of a process that hangs.
 */
export const MAX_NODES = 500;

const topologyForms =
  'K<n> (complete, e.g. K5), ring:<n> (cycle, n ≥ 3), star:<n> (one hub and n−1 leaves, n ≥ 2) or path:<n>';

/** alpha…epsilon, as the five instances of the K₅ cluster are named, then n6, n7, …. */
export function defaultNodeNames(count: number): string[] {
  const greek = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  return Array.from({ length: count }, (_, i) => greek[i] ?? `n${i + 1}`);
}

/** Parses `K5`, `ring:6`, `star:4`, `path:3`; throws USAGE naming the accepted forms. */
export function parseTopologySpec(spec: string): { shape: StandardShape; size: number } {
  const match = /^(?:K(\d+)|(ring|star|path):(\d+))$/.exec(spec.trim());
  const digits = match?.[1] ?? match?.[3];
  if (!match || digits === undefined) {
    throw new TriadError('USAGE', `unknown topology "${spec}": expected ${topologyForms}`);
  }
  const shape: StandardShape = match[1] !== undefined ? 'complete' : (match[2] as StandardShape);
  const size = Number(digits);
  const minimum = { complete: 1, ring: 3, star: 2, path: 1 }[shape];
  if (size < minimum || size > MAX_NODES) {
    throw new TriadError(
      'USAGE',
      `topology "${spec}": ${shape === 'complete' ? 'K<n>' : `${shape}:<n>`} needs ${minimum} ≤ n ≤ ${MAX_NODES}` +
        (shape === 'ring' && size < 3 ? ` (a cycle needs three nodes; use path:${size} or K${size})` : ''),
    );
  }
  return { shape, size };
}

/** A unit-weight standard topology; `names` (default alpha, beta, …) must have exactly n entries. */
export function graphFromTopology(spec: string, names?: readonly string[]): Graph {
  const { shape, size } = parseTopologySpec(spec);
  const nodes = names ? [...names] : defaultNodeNames(size);
  if (nodes.length !== size) {
    throw new TriadError('INPUT_INVALID', `topology "${spec}" has ${size} nodes but ${nodes.length} names were given`);
  }
  return createGraph(nodes, standardEdges(shape, nodes));
}

/**
 * The graph a cluster runs consensus on. The first instance is the star's hub. A ring of fewer than three instances
 * is the path through them (a cycle on two nodes would repeat the one edge), which for n ≤ 2 is also K_n.
 */
export function graphFromCluster(cluster: Pick<ClusterConfig, 'topology' | 'edges' | 'instances'>): Graph {
  const nodes = cluster.instances.map((i) => i.name);
  if (cluster.topology === 'custom')
    return createGraph(
      nodes,
      cluster.edges.map(([a, b, w]) => [a, b, w] as const),
    );
  const shape = cluster.topology === 'ring' && nodes.length < 3 ? 'path' : cluster.topology;
  return createGraph(nodes, standardEdges(shape, nodes));
}

function standardEdges(shape: StandardShape, nodes: readonly string[]): Edge[] {
  const edges: Edge[] = [];
  const at = (i: number) => nodes[i] ?? '';
  const n = nodes.length;
  if (shape === 'complete') {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) edges.push([at(i), at(j), 1]);
  } else if (shape === 'star') {
    for (let i = 1; i < n; i++) edges.push([at(0), at(i), 1]);
  } else {
    for (let i = 0; i + 1 < n; i++) edges.push([at(i), at(i + 1), 1]);
    if (shape === 'ring' && n >= 3) edges.push([at(n - 1), at(0), 1]);
  }
  return edges;
}

/** Checks a graph and returns it; throws INPUT_INVALID listing every problem with its path. */
export function createGraph(nodes: readonly string[], edges: readonly Edge[]): Graph {
  const issues = graphIssues(nodes, edges);
  if (issues.length > 0) throw new TriadError('INPUT_INVALID', formatGraphIssues(issues));
  return { nodes: [...nodes], edges: edges.map(([a, b, w]) => [a, b, w] as const) };
}

export function formatGraphIssues(issues: readonly GraphIssue[], file?: string): string {
  // A file with thousands of bad entries gets the first few and a count, not an error as large as the file.
  const shown = issues.slice(0, maxIssuesShown).map((i) => `${i.path}: ${i.message}`);
  if (issues.length > maxIssuesShown) shown.push(`… and ${issues.length - maxIssuesShown} more`);
  const prefix = file === undefined ? '' : `${file}: `;
  if (issues.length === 1) return `${prefix}${shown[0] ?? ''}`;
  return `${prefix}${issues.length} problems:\n  ${shown.join('\n  ')}`;
}

const maxIssuesShown = 20;
/**
 * The largest edge weight: weights multiply in the Laplacian's eigen-solve and the simulated iteration, and 1e308
 * overflows to Infinity there (squares overflow from 1e155). Weights are relative (how strongly i listens to j), so
 * 1e12 : 1 is far past any real graph while its squares stay well inside a double.
 */
export const MAX_WEIGHT = 1e12;

/** Every rule a graph must satisfy, one issue per offending node or edge, so a file is fixed in one pass. */
export function graphIssues(nodes: readonly string[], edges: readonly Edge[]): GraphIssue[] {
  const issues: GraphIssue[] = [];
  if (nodes.length === 0) issues.push({ path: 'nodes', message: 'the graph has no nodes (expected at least one)' });
  if (nodes.length > MAX_NODES) {
    issues.push({
      path: 'nodes',
      message: `${nodes.length} nodes is more than the ${MAX_NODES} this analysis handles`,
    });
  }
  const firstIndex = new Map<string, number>();
  nodes.forEach((name, index) => {
    const first = firstIndex.get(name);
    if (first !== undefined) {
      issues.push({ path: `nodes[${index}]`, message: `duplicate node "${name}" (first at nodes[${first}])` });
    } else if (name.length === 0) {
      issues.push({ path: `nodes[${index}]`, message: 'expected a non-empty node name' });
    } else firstIndex.set(name, index);
  });
  const known = () => listNames([...firstIndex.keys()]);
  const firstEdge = new Map<string, number>();
  edges.forEach(([a, b, w], index) => {
    const path = `edges[${index}]`;
    const unknown = [a, b].filter((end) => !firstIndex.has(end));
    for (const end of new Set(unknown)) {
      issues.push({ path, message: `unknown node "${end}" (nodes: ${known()})` });
    }
    if (a === b) issues.push({ path, message: `self-loop on "${a}" (an edge must join two different nodes)` });
    if (!Number.isFinite(w) || w <= 0 || w > MAX_WEIGHT) {
      issues.push({ path: `${path}[2]`, message: `expected a finite weight > 0 and ≤ 1e12, received ${String(w)}` });
    }
    const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    const first = firstEdge.get(key);
    if (first !== undefined) {
      issues.push({ path, message: `duplicate edge ${a}–${b} (first at edges[${first}]; edges are undirected)` });
    } else firstEdge.set(key, index);
  });
  return issues;
}

function listNames(nodes: readonly string[], limit = 12): string {
  const shown = nodes.slice(0, limit).join(', ');
  return nodes.length > limit ? `${shown}, … ${nodes.length - limit} more` : shown;
}

/** Connected components by union-find, each in node order, ordered by their first node. */
export function componentsOf(graph: Graph): string[][] {
  const index = new Map(graph.nodes.map((name, i) => [name, i]));
  const parent = graph.nodes.map((_, i) => i);
  const root = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] ?? r;
    for (let k = i; parent[k] !== r;) {
      const next = parent[k] ?? r;
      parent[k] = r;
      k = next;
    }
    return r;
  };
  for (const [a, b] of graph.edges) {
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia !== undefined && ib !== undefined) parent[root(ia)] = root(ib);
  }
  const groups = new Map<number, string[]>();
  graph.nodes.forEach((name, i) => {
    const r = root(i);
    const group = groups.get(r);
    if (group) group.push(name);
    else groups.set(r, [name]);
  });
  return [...groups.values()];
}

/**
 * Recognises K_n, C_n, S_n and P_n with one common weight from structure alone, whatever the node names or edge
 * order: a connected 2-regular graph is a cycle, a tree with a node of degree n−1 is a star, a tree of maximum degree
 * 2 is a path. Their spectra have closed forms, exact where an iterative solver only approximates.
 */
export function standardShapeOf(graph: Graph): { shape: StandardShape; weight: number } | undefined {
  const n = graph.nodes.length;
  const m = graph.edges.length;
  const weight = graph.edges[0]?.[2] ?? 1;
  if (n === 0 || graph.edges.some((e) => e[2] !== weight)) return undefined;
  if (m === (n * (n - 1)) / 2) return { shape: 'complete', weight };
  if (componentsOf(graph).length !== 1) return undefined;
  const degree = new Map<string, number>();
  for (const [a, b] of graph.edges) {
    degree.set(a, (degree.get(a) ?? 0) + 1);
    degree.set(b, (degree.get(b) ?? 0) + 1);
  }
  const degrees = [...degree.values()];
  if (m === n && degrees.every((d) => d === 2)) return { shape: 'ring', weight };
  if (m !== n - 1) return undefined;
  if (degrees.includes(n - 1)) return { shape: 'star', weight };
  if (degrees.every((d) => d <= 2)) return { shape: 'path', weight };
  return undefined;
}
