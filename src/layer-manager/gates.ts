import type { AgreedLayer } from '../consensus/index.js';
import { formatDurationMs, type LayerId, type LayersConfig } from '../config/index.js';
import type { BandTracker } from './bands.js';
import { isActive, layerConfig, requirementsOf, type DesiredState } from './desired-state.js';

export type CheckStatus = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

/** One gate check as the operator sees it: what was measured, against what, on how many samples. */
export interface GateCheck {
  /** The instance the check is about, or '*' for a cluster-wide (agreed) figure. */
  instance: string;
  layer: LayerId;
  check: 'emergency' | 'requires' | 'stable' | 'amplification' | 'error_rate' | 'consensus' | 'healthy' | 'lock';
  status: CheckStatus;
  measured: string;
  threshold: string;
  samples: number;
  detail: string;
}

export interface AgreedFigures {
  /** When the epoch these figures come from started (ms). */
  at: number;
  error: number;
  layers: Record<LayerId, AgreedLayer>;
}

export interface GateInputs {
  config: LayersConfig;
  /** Turns a configured duration into the one in force (the demo profile compresses them). */
  duration: (ms: number) => number;
  /** Agreed figures older than this are stale; at least a few consensus intervals, whatever the profile. */
  maxSampleAgeMs: number;
  now: number;
  before: DesiredState;
  after: DesiredState;
  /** When `layer` became continuously active on `instance` (ms since epoch), or undefined if it is not active. */
  activeSince: (instance: string, layer: LayerId) => number | undefined;
  agreed?: AgreedFigures;
  bands: BandTracker;
  reachable: (instance: string) => boolean;
}

/**
 * Every check for activating (or raising the percentage of) each target layer on each target instance. Missing,
 * stale or too few data is INCONCLUSIVE, never PASS: a gate that cannot see must not open.
 */
export function evaluateGates(
  targets: readonly { instance: string; layer: LayerId }[],
  inputs: GateInputs,
): GateCheck[] {
  const checks = new Map<string, GateCheck>();
  const add = (c: GateCheck) => checks.set(`${c.instance}|${c.layer}|${c.check}`, c);
  const { config, now } = inputs;
  const activated = new Set(targets.map((t) => `${t.instance}|${t.layer}`));

  for (const { instance, layer } of targets) {
    const base = { instance, layer, samples: 0 };
    if (inputs.before.emergency_disabled) {
      add({
        ...base,
        instance: '*',
        check: 'emergency',
        status: 'FAIL',
        measured: 'emergency-disabled',
        threshold: 'not emergency-disabled',
        detail: 'roll back to a version from before the emergency-disable to restore service',
      });
    }
    for (const required of requirementsOf(layer, config)) {
      const ok = isActive(inputs.after, instance, required);
      add({
        ...base,
        check: 'requires',
        status: ok ? 'PASS' : 'FAIL',
        measured: `${required} ${ok ? 'active' : 'not active'}`,
        threshold: `${required} active on ${instance}`,
        detail: ok ? '' : `activate ${required} on ${instance} first, or in the same command`,
      });
    }
    add({
      ...base,
      check: 'healthy',
      status: inputs.reachable(instance) ? 'PASS' : 'FAIL',
      measured: inputs.reachable(instance) ? 'reachable' : 'unreachable',
      threshold: 'reachable',
      detail: '',
    });
    add({
      ...base,
      instance: '*',
      layer,
      check: 'lock',
      status: 'PASS',
      measured: 'held by this change',
      threshold: 'no other change holds the cluster lock',
      detail: '',
    });

    const own = layerConfig(layer, config);
    const previous = [...config.stages].reverse().find((s) => s.stage < own.stage);
    if (previous) {
      const windowMs = inputs.duration(previous.stableForMs);
      for (const l of previous.layers) {
        const since = activated.has(`${instance}|${l}`) ? undefined : inputs.activeSince(instance, l);
        const ranMs = since === undefined ? 0 : now - since;
        add({
          ...base,
          layer: l,
          check: 'stable',
          status: since !== undefined && ranMs >= windowMs ? 'PASS' : 'FAIL',
          measured: since === undefined ? 'not active' : `active ${formatDurationMs(ranMs)}`,
          threshold: `stage ${previous.stage} active ≥ ${formatDurationMs(windowMs)}`,
          detail: since === undefined ? `${l} must run on ${instance} before ${layer}` : '',
        });
        addAgreedChecks(add, l, inputs);
      }
    }
    addConsensusCheck(add, layer, inputs);
  }
  return [...checks.values()];
}

function addAgreedChecks(add: (c: GateCheck) => void, layer: LayerId, inputs: GateInputs): void {
  const { config, agreed, now } = inputs;
  const { minSamples, errorRateBelow } = config.gates;
  const band = layerConfig(layer, config).amplification;
  const figures = agreed?.layers[layer];
  const stale = agreed === undefined || now - agreed.at > inputs.maxSampleAgeMs;
  const samples = figures?.samples ?? 0;
  const missing = stale
    ? agreed === undefined
      ? 'no consensus epoch yet'
      : `agreed figures are ${formatDurationMs(now - agreed.at)} old (max ${formatDurationMs(inputs.maxSampleAgeMs)})`
    : figures === undefined || figures.reportingInstances === 0
      ? `no instance reports ${layer}`
      : samples < minSamples
        ? `${samples} operations in the window, need ${minSamples}`
        : undefined;
  const base = { instance: '*', layer, samples };
  if (band) {
    const [low, high] = band.acceptable;
    const value = figures?.amplification;
    const inside = value !== undefined && inputs.bands.peek(layer, band, value);
    add({
      ...base,
      check: 'amplification',
      status: missing ? 'INCONCLUSIVE' : inside ? 'PASS' : 'FAIL',
      measured: value === undefined || missing ? 'n/a' : value.toFixed(2),
      threshold: `${low.toFixed(2)}–${high.toFixed(2)} (re-entry ${(low + band.hysteresis).toFixed(2)}–${(high - band.hysteresis).toFixed(2)})`,
      detail: missing ?? '',
    });
  }
  const rate = figures?.errorRate;
  add({
    ...base,
    check: 'error_rate',
    status: missing ? 'INCONCLUSIVE' : rate !== undefined && rate < errorRateBelow ? 'PASS' : 'FAIL',
    measured: rate === undefined || missing ? 'n/a' : `${(rate * 100).toFixed(2)}%`,
    threshold: `< ${(errorRateBelow * 100).toFixed(2)}%`,
    detail: missing ?? '',
  });
}

function addConsensusCheck(add: (c: GateCheck) => void, layer: LayerId, inputs: GateInputs): void {
  const { agreed, now, config } = inputs;
  const maxAge = inputs.maxSampleAgeMs;
  const limit = config.gates.consensusErrorBelow;
  const base = { instance: '*', layer, check: 'consensus' as const, samples: 0, threshold: `< ${limit}` };
  if (!agreed) {
    add({ ...base, status: 'INCONCLUSIVE', measured: 'n/a', detail: 'no consensus epoch yet' });
  } else if (now - agreed.at > maxAge) {
    add({
      ...base,
      status: 'INCONCLUSIVE',
      measured: agreed.error.toExponential(2),
      detail: `last epoch ${formatDurationMs(now - agreed.at)} ago (max ${formatDurationMs(maxAge)})`,
    });
  } else {
    add({
      ...base,
      status: agreed.error < limit ? 'PASS' : 'FAIL',
      measured: agreed.error.toExponential(2),
      detail: '',
    });
  }
}
