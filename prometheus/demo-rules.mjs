#!/usr/bin/env node
// Renders demo-compressed copies of prometheus/rules/*.yml (and a prometheus.yml that loads them) for
// `triad up --demo` and the live tests: production `for:` durations and range windows would keep a demo
// cluster's alerts silent for minutes to hours.
//
//   node prometheus/demo-rules.mjs [--out .triad/prometheus-demo] [--scrape-interval 1s]
//   prometheus --config.file=.triad/prometheus-demo/prometheus.yml --storage.tsdb.path=.triad/prometheus-demo/data
//
// Plain Node, no dependencies, and a line-by-line text rewrite rather than a YAML round trip: the output differs
// from the input only in the durations below, so every expression, label and annotation stays byte-identical.
//   group `interval:`  → the scrape interval (1s)
//   `for:`             → ÷ 60, at least 1s           (2m → 2s, 5m → 5s, 10m → 10s, 15m → 15s, 1h → 1m)
//   range `[d]`        → ÷ 15, at least 4 × scrape   ([5m] → [20s], [1h] → [4m])
// Windows shrink less than `for:` so a rate() window still holds enough samples (≥ 4 scrapes) to be stable.
// Recording-rule names keep their production window (`…:rate5m`): dashboards work against either set.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const prometheusDir = path.dirname(fileURLToPath(import.meta.url));
export const forDivisor = 60;
export const rangeDivisor = 15;
export const minForMs = 1_000;
/** A rate() window must span at least this many scrapes. */
export const minScrapesPerRange = 4;

const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const durationPattern = /^(?:\d+(?:ms|[smhdwy]))+$/;

/** Milliseconds of a Prometheus duration ("1h30m", "500ms"); throws naming the text when it is not one. */
export function parseDurationMs(text) {
  if (!durationPattern.test(text)) throw new Error(`not a Prometheus duration: "${text}"`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|[smhdwy])/g)) total += Number(amount) * unitMs[unit];
  return total;
}

/** The shortest Prometheus duration for whole milliseconds: 240000 → "4m", 90000 → "1m30s", 1500 → "1s500ms". */
export function formatDurationMs(ms) {
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`cannot format ${ms} ms as a Prometheus duration`);
  let rest = ms;
  let out = '';
  for (const unit of ['h', 'm', 's', 'ms']) {
    const amount = Math.floor(rest / unitMs[unit]);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * unitMs[unit];
  }
  return out;
}

const round = (ms) => Math.max(1, Math.round(ms));

/** The demo value of a `for:` duration. */
export function compressFor(text) {
  return formatDurationMs(Math.max(minForMs, round(parseDurationMs(text) / forDivisor)));
}

/** The demo value of a range-vector window. */
export function compressRange(text, scrapeIntervalMs = 1_000) {
  return formatDurationMs(Math.max(minScrapesPerRange * scrapeIntervalMs, round(parseDurationMs(text) / rangeDivisor)));
}

const groupIntervalLine = /^(\s*(?:-\s+)?interval:\s*)(\S+)(.*)$/;
const forLine = /^(\s*(?:-\s+)?for:\s*)(\S+)(.*)$/;
const rangeWindow = /\[((?:\d+(?:ms|[smhdwy]))+)\]/g;

/** A rule file's text with its durations compressed (see the table at the top of this file). */
export function renderDemoRules(text, { scrapeIntervalMs = 1_000 } = {}) {
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*#/.test(line)) return line;
      const interval = groupIntervalLine.exec(line);
      if (interval) return `${interval[1]}${formatDurationMs(scrapeIntervalMs)}${interval[3]}`;
      const forMatch = forLine.exec(line);
      if (forMatch) return `${forMatch[1]}${compressFor(forMatch[2])}${forMatch[3]}`;
      return line.replace(rangeWindow, (_, window) => `[${compressRange(window, scrapeIntervalMs)}]`);
    })
    .join('\n');
}

/** prometheus.yml with scrape and evaluation every `scrapeIntervalMs` (rule_files stay relative to it). */
export function renderDemoConfig(text, { scrapeIntervalMs = 1_000 } = {}) {
  return text.replace(
    /^(\s*(?:scrape|evaluation)_interval:\s*)\S+/gm,
    (_, key) => `${key}${formatDurationMs(scrapeIntervalMs)}`,
  );
}

/** The rule files shipped in prometheus/rules, as absolute paths. */
export function ruleFiles(rulesDir = path.join(prometheusDir, 'rules')) {
  return readdirSync(rulesDir)
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => path.join(rulesDir, name));
}

/**
 * Writes outDir/rules/<name>.yml (compressed) for every shipped rule file and outDir/prometheus.yml loading them.
 * Returns the written paths.
 */
export function writeDemoRules({ outDir, scrapeIntervalMs = 1_000, rulesDir, configFile } = {}) {
  if (!outDir) throw new Error('writeDemoRules needs an outDir');
  const rulesOut = path.join(outDir, 'rules');
  mkdirSync(rulesOut, { recursive: true });
  const written = ruleFiles(rulesDir).map((file) => {
    const target = path.join(rulesOut, path.basename(file));
    writeFileSync(target, renderDemoRules(readFileSync(file, 'utf8'), { scrapeIntervalMs }));
    return target;
  });
  const config = path.join(outDir, 'prometheus.yml');
  writeFileSync(
    config,
    renderDemoConfig(readFileSync(configFile ?? path.join(prometheusDir, 'prometheus.yml'), 'utf8'), {
      scrapeIntervalMs,
    }),
  );
  return { ruleFiles: written, configFile: config };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.triad/prometheus-demo' },
      'scrape-interval': { type: 'string', default: '1s' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node prometheus/demo-rules.mjs [--out DIR] [--scrape-interval 1s]\n');
  } else {
    const { ruleFiles: written, configFile } = writeDemoRules({
      outDir: path.resolve(values.out),
      scrapeIntervalMs: parseDurationMs(values['scrape-interval']),
    });
    for (const file of [...written, configFile]) process.stdout.write(`${file}\n`);
    process.stdout.write(
      `run: prometheus --config.file=${configFile} --storage.tsdb.path=${path.join(path.resolve(values.out), 'data')}\n`,
    );
  }
}
