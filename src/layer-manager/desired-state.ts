import { layerIds, type LayerConfig, type LayerId, type LayersConfig } from '../config/index.js';
import { TriadError } from '../shared/index.js';

export interface LayerSetting {
  enabled: boolean;
  /** Share of operation keys the layer runs for, 1–100 while enabled (DESIGN §2); 0 when disabled. */
  percentage: number;
}

/** What the cluster should run (DESIGN §2): one version of it is one row of desired_state_versions. */
export interface DesiredState {
  instances: Record<string, Record<LayerId, LayerSetting>>;
  disabled_frameworks: string[];
  emergency_disabled: boolean;
}

const off: LayerSetting = { enabled: false, percentage: 0 };

/** Version 0: nothing enabled anywhere. Rollback to 0 returns there. */
export function emptyState(instances: readonly string[]): DesiredState {
  return {
    instances: Object.fromEntries(instances.map((i) => [i, allOff()])),
    disabled_frameworks: [],
    emergency_disabled: false,
  };
}

function allOff(): Record<LayerId, LayerSetting> {
  return Object.fromEntries(layerIds.map((l) => [l, { ...off }])) as Record<LayerId, LayerSetting>;
}

/**
 * A stored state made whole for the current cluster: an instance added to the config since the version was written
 * has every layer off; one removed from it is dropped. Versions stay comparable whatever the config did.
 */
export function normaliseState(raw: unknown, instances: readonly string[]): DesiredState {
  const value = (raw ?? {}) as Partial<DesiredState>;
  const state = emptyState(instances);
  for (const instance of instances) {
    const layers = value.instances?.[instance];
    for (const layer of layerIds) {
      const s = layers?.[layer];
      if (s?.enabled) state.instances[instance]![layer] = { enabled: true, percentage: clampPercentage(s.percentage) };
    }
  }
  state.disabled_frameworks = [...new Set(value.disabled_frameworks ?? [])].sort();
  state.emergency_disabled = value.emergency_disabled === true;
  return state;
}

function clampPercentage(p: unknown): number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 100 ? p : 100;
}

export function settingOf(state: DesiredState, instance: string, layer: LayerId): LayerSetting {
  return state.instances[instance]?.[layer] ?? off;
}

export function isActive(state: DesiredState, instance: string, layer: LayerId): boolean {
  return !state.emergency_disabled && settingOf(state, instance, layer).enabled;
}

export function activeLayers(state: DesiredState, instance: string): LayerId[] {
  return layerIds.filter((l) => isActive(state, instance, l));
}

export type TransitionAction = 'activate' | 'deactivate' | 'percentage' | 'disable_framework' | 'enable_framework';

export interface Transition {
  instance: string;
  /** The layer, or the framework id for framework transitions. */
  subject: string;
  action: TransitionAction;
  fromPercentage: number;
  toPercentage: number;
}

/**
 * What changes between two states, in the order it is safe to apply: deactivations first, top layer down (R6 before
 * R5 …, so nothing ever runs without what it requires), then percentage changes, then activations bottom up.
 */
export function diffStates(before: DesiredState, after: DesiredState, instances: readonly string[]): Transition[] {
  const down: Transition[] = [];
  const pct: Transition[] = [];
  const up: Transition[] = [];
  for (const instance of instances) {
    for (const layer of layerIds) {
      const a = isActive(before, instance, layer) ? settingOf(before, instance, layer) : off;
      const b = isActive(after, instance, layer) ? settingOf(after, instance, layer) : off;
      const t = { instance, subject: layer, fromPercentage: a.percentage, toPercentage: b.percentage };
      if (a.enabled && !b.enabled) down.push({ ...t, action: 'deactivate' });
      else if (!a.enabled && b.enabled) up.push({ ...t, action: 'activate' });
      else if (a.enabled && a.percentage !== b.percentage) pct.push({ ...t, action: 'percentage' });
    }
  }
  const rank = (t: Transition) => layerIds.indexOf(t.subject as LayerId);
  down.sort((x, y) => rank(y) - rank(x) || x.instance.localeCompare(y.instance));
  up.sort((x, y) => rank(x) - rank(y) || x.instance.localeCompare(y.instance));
  const frameworks: Transition[] = [];
  const wasOff = new Set(before.disabled_frameworks);
  const isOff = new Set(after.disabled_frameworks);
  for (const id of [...isOff].filter((f) => !wasOff.has(f)).sort()) {
    frameworks.push({ instance: '*', subject: id, action: 'disable_framework', fromPercentage: 0, toPercentage: 0 });
  }
  for (const id of [...wasOff].filter((f) => !isOff.has(f)).sort()) {
    frameworks.push({ instance: '*', subject: id, action: 'enable_framework', fromPercentage: 0, toPercentage: 0 });
  }
  return [...frameworks, ...down, ...pct, ...up];
}

export interface ActivateInput {
  layers: readonly LayerId[];
  instances: readonly string[];
  percentage: number;
}

export function activate(state: DesiredState, input: ActivateInput): DesiredState {
  const next = structuredClone(state);
  for (const instance of input.instances) {
    for (const layer of input.layers)
      next.instances[instance]![layer] = { enabled: true, percentage: input.percentage };
  }
  return next;
}

export interface DeactivateInput {
  layers: readonly LayerId[];
  instances: readonly string[];
  /** Also take down every active layer that (transitively) requires one of `layers`. */
  cascade: boolean;
}

/**
 * Turns layers off. Without `cascade`, refuses (INPUT_INVALID) to leave an active layer without what it requires,
 * naming the dependants; with it, the dependants go too.
 */
export function deactivate(state: DesiredState, input: DeactivateInput, config: LayersConfig): DesiredState {
  const next = structuredClone(state);
  const problems: string[] = [];
  for (const instance of input.instances) {
    const going = new Set<LayerId>(input.layers);
    if (input.cascade) for (const l of input.layers) for (const d of dependantsOf(l, config)) going.add(d);
    for (const layer of going) next.instances[instance]![layer] = { ...off };
    const stranded = activeLayers(next, instance).filter((l) => requirementsOf(l, config).some((r) => going.has(r)));
    if (stranded.length > 0) {
      const needs = stranded.map(
        (l) =>
          `${l} requires ${requirementsOf(l, config)
            .filter((r) => going.has(r))
            .join('+')}`,
      );
      problems.push(`${instance}: ${needs.join(', ')}`);
    }
  }
  if (problems.length > 0) {
    throw new TriadError(
      'INPUT_INVALID',
      `deactivating ${input.layers.join(',')} would leave active layers without what they require (${problems.join('; ')}): deactivate those too, or pass --cascade`,
    );
  }
  return next;
}

export function setFrameworkEnabled(state: DesiredState, frameworkId: string, enabled: boolean): DesiredState {
  const next = structuredClone(state);
  const set = new Set(next.disabled_frameworks);
  if (enabled) set.delete(frameworkId);
  else set.add(frameworkId);
  next.disabled_frameworks = [...set].sort();
  return next;
}

/** Every layer off on every instance, in one version; the layer settings are kept so a rollback can restore them. */
export function emergencyDisable(state: DesiredState): DesiredState {
  return { ...structuredClone(state), emergency_disabled: true };
}

export function requirementsOf(layer: LayerId, config: LayersConfig): readonly LayerId[] {
  return layerConfig(layer, config).requires;
}

/** Layers that require `layer`, directly or through others. */
export function dependantsOf(layer: LayerId, config: LayersConfig): LayerId[] {
  const found = new Set<LayerId>();
  const visit = (l: LayerId) => {
    for (const other of config.layers) {
      if (other.requires.includes(l) && !found.has(other.id)) {
        found.add(other.id);
        visit(other.id);
      }
    }
  };
  visit(layer);
  return layerIds.filter((l) => found.has(l));
}

export function layerConfig(layer: LayerId, config: LayersConfig): LayerConfig {
  const found = config.layers.find((l) => l.id === layer);
  if (!found) throw new TriadError('INTERNAL', `layer ${layer} is not configured`);
  return found;
}

/** What one instance should run under `state`: its active layers with their percentage, and the switched-off frameworks. */
export function appliedLayersOf(
  state: DesiredState,
  instance: string,
): { layers: Map<LayerId, number>; disabledFrameworks: Set<string> } {
  return {
    layers: new Map(activeLayers(state, instance).map((l) => [l, settingOf(state, instance, l).percentage])),
    disabledFrameworks: new Set(state.disabled_frameworks),
  };
}

/** "R1 R2@10%" — compact per-instance view for status and history. */
export function describeLayers(state: DesiredState, instance: string): string {
  if (state.emergency_disabled) return 'EMERGENCY-DISABLED';
  const parts = activeLayers(state, instance).map((l) => {
    const p = settingOf(state, instance, l).percentage;
    return p === 100 ? l : `${l}@${p}%`;
  });
  return parts.length > 0 ? parts.join(' ') : '-';
}
