import { TriadError } from '../shared/index.js';
import { formatGraphIssues, graphIssues, MAX_NODES, type Edge, type Graph, type GraphIssue } from './topology.js';

/** Bytes a graph file may have, checked before reading: 500 nodes fully connected with weights is ~4 MB. */
export const MAX_GRAPH_FILE_BYTES = 8 * 1024 * 1024;

/** A parsed graph.json: `{"nodes": […], "edges": [[from, to, weight?], …], "x0": […]?}`. */
export interface GraphFile {
  graph: Graph;
  x0?: number[];
}

const allowedKeys = ['nodes', 'edges', 'x0'];

/**
 * Parses and checks graph.json text. Every problem names the file and the JSON path (`g.json: edges[2]: unknown
 * node "delta" (nodes: alpha, beta, gamma)`); all of them are reported at once so a file is fixed in one pass.
 * Reading the file is the caller's job, which keeps this pure and testable on strings.
 */
export function parseGraphFile(file: string, text: string): GraphFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TriadError('INPUT_INVALID', jsonErrorMessage(file, text, err), { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TriadError(
      'INPUT_INVALID',
      `${file}: expected a JSON object like {"nodes": ["alpha", "beta"], "edges": [["alpha", "beta", 1]]}, ` +
        `received ${describe(raw)}`,
    );
  }
  const issues: GraphIssue[] = [];
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowedKeys.includes(key)) {
      issues.push({ path: key, message: `unknown key (allowed: ${allowedKeys.join(', ')})` });
    }
  }
  // Counts before contents: a graph past the caps is refused without walking (or echoing) its entries.
  const maxEdges = (MAX_NODES * (MAX_NODES - 1)) / 2;
  if (Array.isArray(record.nodes) && record.nodes.length > MAX_NODES) {
    throw new TriadError('INPUT_INVALID', `${file}: nodes: ${record.nodes.length} nodes, at most ${MAX_NODES}`);
  }
  if (Array.isArray(record.edges) && record.edges.length > maxEdges) {
    throw new TriadError('INPUT_INVALID', `${file}: edges: ${record.edges.length} edges, at most ${maxEdges}`);
  }
  const nodes = readNodes(record.nodes, issues);
  const edges = readEdges(record.edges, issues);
  const x0Issues: GraphIssue[] = [];
  const x0 = record.x0 === undefined ? undefined : readNumbers(record.x0, 'x0', x0Issues);
  if (nodes && edges) issues.push(...graphIssues(nodes, edges));
  issues.push(...x0Issues);
  if (nodes && nodes.length > 0 && x0 && x0.length !== nodes.length) {
    const names = nodes.length <= 12 ? ` (${nodes.join(', ')})` : '';
    issues.push({
      path: 'x0',
      message: `has ${x0.length} value${x0.length === 1 ? '' : 's'} but the graph has ${nodes.length} nodes${names}`,
    });
  }
  if (issues.length > 0 || !nodes || !edges) {
    throw new TriadError('INPUT_INVALID', formatGraphIssues(issues, file));
  }
  return { graph: { nodes, edges }, ...(x0 ? { x0 } : {}) };
}

function readNodes(value: unknown, issues: GraphIssue[]): string[] | undefined {
  if (!Array.isArray(value)) {
    const message =
      value === undefined
        ? 'missing (expected an array of node names)'
        : `expected an array of node names, received ${describe(value)}`;
    issues.push({ path: 'nodes', message });
    return undefined;
  }
  const before = issues.length;
  value.forEach((name, i) => {
    if (typeof name !== 'string') {
      issues.push({ path: `nodes[${i}]`, message: `expected a node name (string), received ${describe(name)}` });
    }
  });
  return issues.length === before ? (value as string[]) : undefined;
}

/** A missing "edges" is an edgeless graph: a lone node is a valid (trivially agreed) cluster. */
function readEdges(value: unknown, issues: GraphIssue[]): Edge[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push({
      path: 'edges',
      message: `expected an array of [from, to, weight?] edges, received ${describe(value)}`,
    });
    return undefined;
  }
  const edges: Edge[] = [];
  value.forEach((edge: unknown, i) => {
    const path = `edges[${i}]`;
    if (!Array.isArray(edge) || edge.length < 2 || edge.length > 3) {
      issues.push({ path, message: `expected [from, to] or [from, to, weight], received ${describe(edge)}` });
      return;
    }
    const [from, to, weight = 1] = edge as unknown[];
    let ok = true;
    [from, to].forEach((end, side) => {
      if (typeof end !== 'string') {
        issues.push({ path: `${path}[${side}]`, message: `expected a node name (string), received ${describe(end)}` });
        ok = false;
      }
    });
    if (typeof weight !== 'number') {
      issues.push({ path: `${path}[2]`, message: `expected a weight > 0 (number), received ${describe(weight)}` });
      ok = false;
    }
    if (ok) edges.push([from as string, to as string, weight as number]);
  });
  return edges.length === value.length ? edges : undefined;
}

function readNumbers(value: unknown, path: string, issues: GraphIssue[]): number[] | undefined {
  if (!Array.isArray(value)) {
    issues.push({ path, message: `expected an array of numbers, received ${describe(value)}` });
    return undefined;
  }
  const before = issues.length;
  value.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      issues.push({ path: `${path}[${i}]`, message: `expected a finite number, received ${describe(v)}` });
    }
  });
  return issues.length === before ? (value as number[]) : undefined;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/**
 * V8's JSON errors give "at position N" for some mistakes and quote the whole text for others; the position becomes
 * file:line:col, and the quoted text (possibly the whole file) is cut.
 */
function jsonErrorMessage(file: string, text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const position = /at position (\d+)/.exec(message)?.[1];
  const offset =
    position !== undefined ? Number(position) : /end of JSON input/.test(message) ? text.length : undefined;
  const reason = message
    .replace(/,\s*".*" is not valid JSON$/s, '')
    .replace(/\s*in JSON at position \d+.*$/s, '')
    .replace(/\s*\(line \d+ column \d+\)$/, '');
  if (offset === undefined) return `${file}: malformed JSON: ${reason}`;
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const col = (before.at(-1)?.length ?? 0) + 1;
  return `${file}:${line}:${col}: malformed JSON: ${reason}`;
}
