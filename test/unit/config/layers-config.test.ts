import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/shared/index.js';

const shipped = readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8');
const file = 'config/layers.yaml';

function errorOf(text: string): ConfigError {
  try {
    parseLayersConfig(text, file);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** Line number of the first line containing `needle` in the shipped file, so tests survive comment edits. */
function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

describe('layers.yaml', () => {
  test('the shipped file: R1–R6 in priority order, default requirements, the four stages and triggers', () => {
    const config = parseLayersConfig(shipped, file);
    expect(config.layers.map((l) => `${l.id}:${l.stage}:${l.requires.join('+')}`)).toEqual([
      'R1:1:',
      'R2:1:R1',
      'R3:2:R2',
      'R4:3:R3',
      'R5:3:R4',
      'R6:4:R5',
    ]);
    expect(config.layers.find((l) => l.id === 'R5')?.amplification).toEqual({
      expected: 4.95,
      acceptable: [4.0, 5.9],
      alertBelow: 4.0,
      hysteresis: 0.1,
    });
    expect(config.layers.find((l) => l.id === 'R6')?.schedule).toBe('0 9 * * 1');
    expect(config.stages.map((s) => s.stableForMs / 86_400_000)).toEqual([7, 14, 21, 30]);
    expect(config.rollbackTriggers.find((t) => t.id === 'r3_beta_collapse')).toEqual({
      id: 'r3_beta_collapse',
      layer: 'R3',
      metric: 'amplification',
      op: 'below',
      threshold: 2.0,
      forMs: 2 * 86_400_000,
    });
  });

  test('an unknown layer id is rejected where it stands, listing the valid ones', () => {
    const text = shipped.replace('  - id: R6\n', '  - id: R7\n');
    const error = errorOf(text);
    expect(error.issues[0]).toEqual({
      where: `${file}:${lineOf(text, '- id: R7')}:9`,
      field: `layers.5.id`,
      message: 'expected one of R1, R2, R3, R4, R5, R6',
    });
  });

  test('a dependency cycle is named', () => {
    const text = shipped.replace('    name: BRIDGES\n', '    name: BRIDGES\n    requires: [R3]\n');
    const messages = errorOf(text).issues.map((i) => i.message);
    expect(messages).toContain('dependency cycle: R2 → R3 → R2');
  });

  test('a duplicate layer and a duplicate framework are both reported', () => {
    const text = shipped
      .replace('  - id: R6\n', '  - id: R5\n')
      .replace('R4_FEEDBACK_COMPOSITION', 'R4_HIERARCHICAL_COMPOSITION');
    const messages = errorOf(text).issues.map((i) => `${i.field}: ${i.message}`);
    expect(messages).toContain('layers.5.id: duplicate layer "R5" (first at layers.4)');
    expect(messages).toContain(
      'layers.3.frameworks.1.id: duplicate framework "R4_HIERARCHICAL_COMPOSITION" (first at layers.3.frameworks.0.id)',
    );
  });

  test('bad thresholds: inverted band, expected outside it, alert above the floor', () => {
    const inverted = errorOf(shipped.replace('acceptable: [2.80, 3.80]', 'acceptable: [3.80, 2.80]'));
    expect(inverted.issues[0]?.field).toBe('layers.2.amplification.acceptable');
    expect(inverted.issues[0]?.message).toBe('expected [low, high] with low < high, received [3.8, 2.8]');
    const outside = errorOf(shipped.replace('expected: 2.20', 'expected: 2.90'));
    expect(outside.issues[0]?.message).toBe('expected value 2.9 is outside acceptable [1.8, 2.6]');
    const alert = errorOf(shipped.replace('alert_below: 4.00', 'alert_below: 4.50'));
    expect(alert.issues[0]?.message).toBe('alert threshold 4.5 is above the acceptable floor 4');
    const text = shipped.replace('acceptable: [4.00, 5.90]', 'acceptable: [4.00, "high"]');
    const line = text.split('\n')[lineOf(text, '"high"') - 1] ?? '';
    expect(errorOf(text).issues[0]?.where).toBe(`${file}:${lineOf(text, '"high"')}:${line.indexOf('"high"') + 1}`);
  });

  test('a framework must carry its layer prefix; a trigger needs exactly one of below/above', () => {
    const prefix = errorOf(shipped.replace('R5_CROSS_INSTANCE_D2', 'R4_CROSS_INSTANCE_D2'));
    expect(prefix.issues[0]?.message).toBe('framework "R4_CROSS_INSTANCE_D2" must start with its layer "R5_"');
    const trigger = errorOf(shipped.replace('metric: amplification, below: 2.0', 'metric: amplification'));
    expect(trigger.issues[0]).toMatchObject({
      field: 'rollback_triggers.0.below',
      message: 'expected exactly one of "below" or "above"',
    });
  });

  test('a layer left out of every stage, or in two, is a config error', () => {
    expect(errorOf(shipped.replace('layers: [R4, R5]', 'layers: [R4]')).issues[0]?.message).toBe(
      'layer R5 is in no rollout stage',
    );
    expect(errorOf(shipped.replace('layers: [R6]', 'layers: [R6, R3]')).issues[0]?.message).toBe(
      'R3 is already in stage 2',
    );
  });
});
