import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { alertRules, readRepoFile, repoRoot } from './ops-assets.js';

const layers = parseLayersConfig(readRepoFile('config/layers.yaml'), 'config/layers.yaml');
const alerts = alertRules();

/** The threshold of `amplification_ratio{layer="Rn"} < T and on (instance, layer) layer_enabled == 1`. */
function amplificationRule(expr: string): { layer: string; threshold: number } | undefined {
  const match =
    /^amplification_ratio\{layer="(R[1-6])"\} < ([\d.]+) and on \(instance, layer\) layer_enabled == 1$/.exec(
      expr.trim(),
    );
  return match ? { layer: match[1]!, threshold: Number(match[2]) } : undefined;
}

describe('AmplificationBelowTarget matches config/layers.yaml', () => {
  const rules = alerts.filter((r) => r.alert === 'AmplificationBelowTarget');

  test('one rule per layer with an amplification band, in the expected form', () => {
    const banded = layers.layers.filter((l) => l.amplification !== undefined).map((l) => l.id);
    expect(banded).toEqual(['R2', 'R3', 'R4', 'R5', 'R6']);
    expect(rules.map((r) => amplificationRule(r.expr)?.layer)).toEqual(banded);
  });

  test.each(layers.layers.filter((l) => l.amplification !== undefined).map((l) => [l.id, l.amplification!.alertBelow]))(
    '%s alerts below alert_below = %s (expression, threshold label and annotations)',
    (layer, alertBelow) => {
      const rule = rules.find((r) => amplificationRule(r.expr)?.layer === layer);
      expect(rule, `no AmplificationBelowTarget rule for ${layer}`).toBeDefined();
      expect(amplificationRule(rule!.expr)!.threshold).toBe(alertBelow);
      expect(Number(rule!.labels?.threshold)).toBe(alertBelow);
      expect(rule!.annotations?.summary).toContain(`alert below ${rule!.labels?.threshold}×`);
      expect(rule!.annotations?.description).toContain(`threshold ${rule!.labels?.threshold}×`);
    },
  );

  test("the plan's R5 < 3.0 alert is distinct and below R5's own floor", () => {
    const floor = alerts.filter((r) => r.alert === 'AmplificationBelowPlanFloor');
    expect(floor).toHaveLength(1);
    const parsed = amplificationRule(floor[0]!.expr);
    expect(parsed).toEqual({ layer: 'R5', threshold: 3.0 });
    expect(floor[0]!.labels?.threshold).toBe('3.0');
    expect(parsed!.threshold).toBeLessThan(layers.layers.find((l) => l.id === 'R5')!.amplification!.alertBelow);
  });

  test('the layer gauge thresholds sit at or below each acceptable band floor', () => {
    for (const l of layers.layers) {
      if (!l.amplification) continue;
      const rule = rules.find((r) => amplificationRule(r.expr)?.layer === l.id)!;
      expect(amplificationRule(rule.expr)!.threshold).toBeLessThanOrEqual(l.amplification.acceptable[0]);
    }
  });
});

describe('the alerts of the operations plan', () => {
  const expected = {
    ConsensusError: { severity: 'critical', for: '5m', expr: 'consensus_error > 0.05' },
    LayerManagerDown: { severity: 'critical', for: '2m', expr: 'up{job="layer_manager"} == 0' },
    FrameworkErrorRateHigh: { severity: 'critical', for: '10m' },
    AmplificationBelowTarget: { severity: 'warning', for: '15m' },
    AmplificationBelowPlanFloor: { severity: 'warning', for: '15m' },
    ConsensusSlow: { severity: 'warning', for: '10m', expr: 'consensus_time_seconds > 5' },
    OperationQueueHigh: { severity: 'warning', for: '15m', expr: 'framework_operation_queue_depth > 200' },
    LayerDisabled: { severity: 'info', for: '5m', expr: 'layer_enabled{layer=~"R[3-6]"} == 0' },
    BurdenBelowExpected: { severity: 'info', for: '1h', expr: 'triad:burden_saved_hours_per_week:sum < 500' },
  } as const satisfies Record<string, { severity: string; for: string; expr?: string }>;

  test('exactly these alert names exist', () => {
    expect([...new Set(alerts.map((r) => r.alert))].sort()).toEqual(Object.keys(expected).sort());
  });

  test.each(Object.entries(expected))('%s: severity, for and expression', (name, want) => {
    const rules = alerts.filter((r) => r.alert === name);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.labels?.severity).toBe(want.severity);
      expect(rule.for).toBe(want.for);
      if ('expr' in want) expect(rule.expr.trim()).toBe(want.expr);
    }
  });

  test('the error-rate alert is errors ÷ operations per instance above 5 %', () => {
    const rule = alerts.find((r) => r.alert === 'FrameworkErrorRateHigh')!;
    expect(rule.expr.replace(/\s+/g, ' ').trim()).toBe(
      'sum by (instance) (rate(framework_operations_errors_total[5m])) / (sum by (instance) (rate(framework_operations_total[5m])) > 0) > 0.05',
    );
  });

  test.each(alerts.map((r) => [`${r.alert!} ${r.labels?.threshold ?? ''}`.trim(), r] as const))(
    '%s: summary, templated description and a runbook that exists',
    (_name, rule) => {
      expect(Object.keys(rule.annotations ?? {}).sort()).toEqual(['description', 'runbook_url', 'summary']);
      expect(rule.annotations!.description).toMatch(/\{\{ \$(value|labels\.\w+)/);
      const kebab = rule.alert!.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
      expect(rule.annotations!.runbook_url).toBe(`docs/runbooks/${kebab}.md`);
      expect(existsSync(path.join(repoRoot, rule.annotations!.runbook_url!))).toBe(true);
    },
  );
});
