import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import {
  activate,
  deactivate,
  describeLayers,
  diffStates,
  emergencyDisable,
  emptyState,
  isActive,
  normaliseState,
  setFrameworkEnabled,
} from '../../../src/layer-manager/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const members = ['alpha', 'beta', 'gamma'];
const full = activate(emptyState(members), {
  layers: ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'],
  instances: members,
  percentage: 100,
});

describe('transitions', () => {
  test('deactivations go top down, then percentage changes, then activations bottom up', () => {
    const before = activate(emptyState(members), { layers: ['R1', 'R2', 'R3'], instances: ['alpha'], percentage: 100 });
    let after = deactivate(before, { layers: ['R2'], instances: ['alpha'], cascade: true }, layers);
    after = activate(after, { layers: ['R1'], instances: ['alpha'], percentage: 50 });
    after = activate(after, { layers: ['R1', 'R2'], instances: ['beta'], percentage: 100 });
    expect(diffStates(before, after, members).map((t) => `${t.action} ${t.subject}@${t.instance}`)).toEqual([
      'deactivate R3@alpha',
      'deactivate R2@alpha',
      'percentage R1@alpha',
      'activate R1@beta',
      'activate R2@beta',
    ]);
  });

  test('deactivating a required layer is refused naming the dependants, unless --cascade', () => {
    expect(() => deactivate(full, { layers: ['R4'], instances: ['alpha'], cascade: false }, layers)).toThrowError(
      '[INPUT_INVALID] deactivating R4 would leave active layers without what they require (alpha: R5 requires R4): deactivate those too, or pass --cascade',
    );
    const cascaded = deactivate(full, { layers: ['R4'], instances: ['alpha'], cascade: true }, layers);
    expect(describeLayers(cascaded, 'alpha')).toBe('R1 R2 R3');
    expect(describeLayers(cascaded, 'beta')).toBe('R1 R2 R3 R4 R5 R6');
  });

  test('emergency-disable turns every layer off in one version and a rollback restores them', () => {
    const down = emergencyDisable(full);
    expect(members.every((m) => !isActive(down, m, 'R1'))).toBe(true);
    expect(diffStates(full, down, members).filter((t) => t.action === 'deactivate')).toHaveLength(18);
    expect(diffStates(down, full, members).filter((t) => t.action === 'activate')).toHaveLength(18);
    expect(describeLayers(down, 'alpha')).toBe('EMERGENCY-DISABLED');
  });

  test('framework switches are cluster-wide transitions listed first', () => {
    const off = setFrameworkEnabled(full, 'R5_CROSS_INSTANCE_D1', false);
    expect(diffStates(full, off, members)).toEqual([
      {
        instance: '*',
        subject: 'R5_CROSS_INSTANCE_D1',
        action: 'disable_framework',
        fromPercentage: 0,
        toPercentage: 0,
      },
    ]);
    expect(diffStates(off, setFrameworkEnabled(off, 'R5_CROSS_INSTANCE_D1', true), members)[0]?.action).toBe(
      'enable_framework',
    );
  });

  test('a stored state is normalised to the current members: new instances off, removed ones dropped, junk ignored', () => {
    const stored = {
      instances: { alpha: { R1: { enabled: true, percentage: 250 } }, zeta: { R1: { enabled: true } } },
      disabled_frameworks: ['B', 'A', 'A'],
    };
    const state = normaliseState(stored, members);
    expect(Object.keys(state.instances)).toEqual(members);
    expect(state.instances.alpha?.R1).toEqual({ enabled: true, percentage: 100 });
    expect(state.instances.beta?.R1).toEqual({ enabled: false, percentage: 0 });
    expect(state.disabled_frameworks).toEqual(['A', 'B']);
    expect(state.emergency_disabled).toBe(false);
  });
});
