import { describe, expect, test } from 'vitest';
import {
  compressFor,
  compressRange,
  formatDurationMs,
  parseDurationMs,
  renderDemoConfig,
  renderDemoRules,
} from '../../../prometheus/demo-rules.mjs';
import { filesIn, parseRuleFile, readRepoFile } from './ops-assets.js';

const rangeWindows = /\[((?:\d+(?:ms|[smhdwy]))+)\]/g;

describe('durations', () => {
  test.each([
    ['15s', 15_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['7d', 604_800_000],
  ])('%s is %i ms and formats back', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
    expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
  });

  test('a non-duration is refused with the text', () => {
    expect(() => parseDurationMs('5 minutes')).toThrow('not a Prometheus duration: "5 minutes"');
  });

  test('the documented mapping', () => {
    expect(['2m', '5m', '10m', '15m', '1h'].map((d) => compressFor(d))).toEqual(['2s', '5s', '10s', '15s', '1m']);
    expect(compressFor('30s')).toBe('1s');
    expect(['5m', '1h'].map((d) => compressRange(d))).toEqual(['20s', '4m']);
    // Never fewer than four scrapes in a window.
    expect(compressRange('30s')).toBe('4s');
    expect(compressRange('5m', 10_000)).toBe('40s');
  });
});

describe.each(filesIn('prometheus/rules', '.yml'))('the demo copy of %s', (file) => {
  const text = readRepoFile(file);
  const original = parseRuleFile(file, text);
  const demo = parseRuleFile(file, renderDemoRules(text));

  test('has the same groups and rules, every group evaluated every second', () => {
    expect(demo.groups.map((g) => g.name)).toEqual(original.groups.map((g) => g.name));
    for (const g of demo.groups) expect(g.interval).toBe('1s');
    const strip = (r: { for?: string; expr: string }) => ({ ...r, for: undefined, expr: undefined });
    expect(demo.groups.flatMap((g) => g.rules.map(strip))).toEqual(original.groups.flatMap((g) => g.rules.map(strip)));
  });

  test('keeps every expression identical except the range windows, which shrink to ≥ 4 scrapes', () => {
    const before = original.groups.flatMap((g) => g.rules);
    const after = demo.groups.flatMap((g) => g.rules);
    before.forEach((rule, i) => {
      const expected = rule.expr.replace(rangeWindows, (_, w: string) => `[${compressRange(w)}]`);
      expect(after[i]!.expr).toBe(expected);
      for (const [, w] of after[i]!.expr.matchAll(rangeWindows)) {
        expect(parseDurationMs(w!)).toBeGreaterThanOrEqual(4_000);
      }
    });
  });

  test('compresses every for: by the documented mapping', () => {
    const before = original.groups.flatMap((g) => g.rules);
    const after = demo.groups.flatMap((g) => g.rules);
    before.forEach((rule, i) => {
      expect(after[i]!.for).toBe(rule.for === undefined ? undefined : compressFor(rule.for));
    });
  });
});

test('the rule files do have windows and for: durations to compress (the tests above are not vacuous)', () => {
  const texts = filesIn('prometheus/rules', '.yml').map(readRepoFile).join('\n');
  expect(texts.match(rangeWindows)?.length).toBeGreaterThan(10);
  expect(texts.match(/^\s*for: /gm)?.length).toBeGreaterThan(5);
});

test('the demo prometheus.yml scrapes and evaluates every second, and keeps its rule files', () => {
  const text = readRepoFile('prometheus/prometheus.yml');
  const demo = renderDemoConfig(text);
  expect(demo).toMatch(/^ {2}scrape_interval: 1s$/m);
  expect(demo).toMatch(/^ {2}evaluation_interval: 1s$/m);
  expect(demo.replace(/_interval: \S+/g, '')).toBe(text.replace(/_interval: \S+/g, ''));
});
