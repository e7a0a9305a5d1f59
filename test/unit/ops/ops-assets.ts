// Readers for the ops assets (prometheus/, grafana/, docs/metrics.md) shared by the ops unit tests and the live
// Prometheus test. Plain file reads: no network, no clock.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const readRepoFile = (relative: string): string => readFileSync(path.join(repoRoot, relative), 'utf8');
export const filesIn = (dir: string, ext: string): string[] =>
  readdirSync(path.join(repoRoot, dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => `${dir}/${f}`);

// ---- Prometheus rule files

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

export interface RuleFile {
  file: string;
  groups: RuleGroup[];
}

export function parseRuleFile(file: string, text: string): RuleFile {
  const doc = parse(text) as { groups?: RuleGroup[] } | null;
  if (!doc?.groups) throw new Error(`${file}: no groups`);
  return { file, groups: doc.groups };
}

export const ruleFiles = (): RuleFile[] =>
  filesIn('prometheus/rules', '.yml').map((file) => parseRuleFile(file, readRepoFile(file)));

export const allRules = (files = ruleFiles()): (Rule & { file: string; group: string })[] =>
  files.flatMap((f) => f.groups.flatMap((g) => g.rules.map((r) => ({ ...r, file: f.file, group: g.name }))));

export const alertRules = (files = ruleFiles()) => allRules(files).filter((r) => r.alert !== undefined);

export const recordingRuleNames = (files = ruleFiles()): Set<string> =>
  new Set(allRules(files).flatMap((r) => (r.record === undefined ? [] : [r.record])));

// ---- Grafana dashboards

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  expr?: string;
  datasource?: DataSourceRef;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DataSourceRef;
  targets?: Target[];
  panels?: Panel[];
  repeat?: string;
  gridPos: { h: number; w: number; x: number; y: number };
}

export interface Variable {
  type: string;
  name: string;
  query?: string | { query: string };
  definition?: string;
  multi?: boolean;
  includeAll?: boolean;
  datasource?: DataSourceRef;
  current?: { value?: string | string[] };
}

export interface Dashboard {
  id?: number | null;
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

export const dashboards = (): { file: string; dashboard: Dashboard }[] =>
  filesIn('grafana/dashboards', '.json').map((file) => ({
    file,
    dashboard: JSON.parse(readRepoFile(file)) as Dashboard,
  }));

/** Every panel, including those nested in collapsed rows. */
export const panelsOf = (dashboard: Dashboard): Panel[] => dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export const dashboardQueries = (): PanelQuery[] =>
  dashboards().flatMap(({ dashboard }) =>
    panelsOf(dashboard).flatMap((p) =>
      (p.targets ?? []).flatMap((t) =>
        t.expr === undefined
          ? []
          : [{ dashboard: dashboard.title, panel: `${p.title} (id ${p.id})`, refId: t.refId, expr: t.expr }],
      ),
    ),
  );

/**
 * A panel expression with Grafana's variables replaced so Prometheus can run it: every instance and layer, and the
 * interval Grafana would pick for a 15 s scrape.
 */
export const resolveGrafanaVariables = (expr: string): string =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replace(/\$(instance|layer)\b/g, '.*');

// ---- docs/metrics.md

export interface MetricContract {
  /** Exact metric names, including a histogram's _bucket/_sum/_count series. */
  names: Set<string>;
  /** Families given as `prefix_*` (prom-client defaults). */
  prefixes: string[];
}

/** Metric names of the contract: the backticked names in the first cell of each table row of docs/metrics.md. */
export function parseMetricContract(markdown: string): MetricContract {
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').map((c) => c.trim());
    const first = cells[1] ?? '';
    const type = cells[2] ?? '';
    for (const [, name] of first.matchAll(/`([a-zA-Z_:][\w:]*\*?)`/g)) {
      if (name!.endsWith('*')) {
        prefixes.push(name!.slice(0, -1));
        continue;
      }
      names.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name!}${suffix}`);
    }
  }
  return { names, prefixes };
}

export const metricContract = (): MetricContract => parseMetricContract(readRepoFile('docs/metrics.md'));

const notMetrics = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless']);
const alsoNotMetrics = new Set(['bool', 'offset', 'inf', 'nan']);

/**
 * Metric names a PromQL expression selects. Not a parser, but enough for the expressions we write: drops string
 * literals (label values, label_replace arguments, Grafana variables inside them), label matchers, range and
 * subquery brackets, grouping clauses (by/on/ignoring/… with their label lists) and `offset d`, then takes every
 * remaining identifier that is not a function or aggregation (followed by "(") nor a keyword.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\boffset\s+-?[\w$]+/gi, ' ');
  const names = new Set<string>();
  for (const [, name] of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const lower = name!.toLowerCase();
    if (notMetrics.has(lower) || alsoNotMetrics.has(lower)) continue;
    names.add(name!);
  }
  return [...names].sort();
}

export function isKnownMetric(name: string, contract: MetricContract, recorded: Set<string>): boolean {
  return (
    name === 'up' ||
    contract.names.has(name) ||
    recorded.has(name) ||
    contract.prefixes.some((prefix) => name.startsWith(prefix))
  );
}
