import type { AgreedLayer, InstanceFigures } from '../consensus/index.js';
import {
  formatDurationMs,
  layerIds,
  type LayerConfig,
  type LayerId,
  type LayersConfig,
  type Timing,
} from '../config/index.js';
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
  /**
   * Each instance's own figures from the same epoch (its snapshot, published with the outcome to every node), so a
   * gate judges the instance it opens for, and a cluster mean never hides one instance outside its band.
   */
  instances: Record<string, Record<LayerId, InstanceFigures>>;
}

export interface GateInputs {
  config: LayersConfig;
  /**
   * In force for the profile: `duration` turns a configured duration into the one in force (the demo compresses
   * them), `maxSampleAgeMs` is when agreed figures go stale, `minSamples` how many operations a window needs to be
   * judged, `windowMs` how long a change takes to turn the window over.
   */
  timing: Pick<Timing, 'duration' | 'maxSampleAgeMs' | 'minSamples' | 'windowMs'>;
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
      const windowMs = inputs.timing.duration(previous.stableForMs);
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
        addInstanceChecks(add, instance, l, inputs);
      }
    }
    addConsensusCheck(add, layer, inputs);
  }
  return [...checks.values()];
}

/** Why figures cannot be judged (missing, stale, too few, a window spanning a change), or undefined when they can. */
function unjudgeable(
  layer: LayerId,
  figures: { samples: number; settled: boolean } | undefined,
  inputs: GateInputs,
  who: string,
): string | undefined {
  const { agreed, now, timing } = inputs;
  if (agreed === undefined) return 'no consensus epoch yet';
  if (now - agreed.at > timing.maxSampleAgeMs)
    return `agreed figures are ${formatDurationMs(now - agreed.at)} old (max ${formatDurationMs(timing.maxSampleAgeMs)})`;
  if (figures === undefined) return `${who} reports no ${layer}`;
  if (figures.samples < timing.minSamples)
    return `${figures.samples} operations in the window${who === 'no instance' ? '' : ` of ${who}`}, need ${timing.minSamples}`;
  if (!figures.settled) {
    const below = layerIds[layerIds.indexOf(layer) - 1];
    return `the window spans a change of ${layer}${below ? ` or ${below}` : ''} on ${who === 'no instance' ? 'an instance' : who}: judged once it has turned over (${formatDurationMs(timing.windowMs)})`;
  }
  return undefined;
}

function addAgreedChecks(add: (c: GateCheck) => void, layer: LayerId, inputs: GateInputs): void {
  const figures = inputs.agreed?.layers[layer];
  const reported = figures && figures.reportingInstances > 0 ? figures : undefined;
  const missing = unjudgeable(layer, reported, inputs, 'no instance');
  const value = reported?.amplification;
  addFigureChecks(
    add,
    { instance: '*', layer, samples: figures?.samples ?? 0 },
    missing,
    {
      amplification:
        value !== undefined && !missing
          ? { value, inside: (band) => inputs.bands.peek(layer, band, value) }
          : undefined,
      errorRate: missing ? undefined : reported?.errorRate,
    },
    inputs,
  );
}

/** The target instance's own figures of a layer it needs: the cluster mean may look fine while this one does not. */
function addInstanceChecks(add: (c: GateCheck) => void, instance: string, layer: LayerId, inputs: GateInputs): void {
  const own = inputs.agreed?.instances[instance]?.[layer];
  const reported = own?.amplification !== undefined || own?.errorRate !== undefined ? own : undefined;
  const missing = unjudgeable(layer, reported, inputs, instance);
  const value = reported?.amplification;
  addFigureChecks(
    add,
    { instance, layer, samples: own?.samples ?? 0 },
    missing,
    {
      amplification:
        value !== undefined && !missing
          ? { value, inside: (band) => value >= band.acceptable[0] && value <= band.acceptable[1] }
          : undefined,
      errorRate: missing ? undefined : reported?.errorRate,
    },
    inputs,
  );
}

function addFigureChecks(
  add: (c: GateCheck) => void,
  base: { instance: string; layer: LayerId; samples: number },
  missing: string | undefined,
  measured: {
    amplification: { value: number; inside: (band: NonNullable<LayerConfig['amplification']>) => boolean } | undefined;
    errorRate: number | undefined;
  },
  inputs: GateInputs,
): void {
  const band = layerConfig(base.layer, inputs.config).amplification;
  const { errorRateBelow } = inputs.config.gates;
  if (band) {
    const [low, high] = band.acceptable;
    const a = measured.amplification;
    add({
      ...base,
      check: 'amplification',
      status: missing ? 'INCONCLUSIVE' : a && a.inside(band) ? 'PASS' : 'FAIL',
      measured: a ? a.value.toFixed(2) : 'n/a',
      threshold:
        base.instance === '*'
          ? `${low.toFixed(2)}–${high.toFixed(2)} (re-entry ${(low + band.hysteresis).toFixed(2)}–${(high - band.hysteresis).toFixed(2)})`
          : `${low.toFixed(2)}–${high.toFixed(2)}`,
      detail: missing ?? '',
    });
  }
  const rate = measured.errorRate;
  add({
    ...base,
    check: 'error_rate',
    status: missing ? 'INCONCLUSIVE' : rate !== undefined && rate < errorRateBelow ? 'PASS' : 'FAIL',
    measured: rate === undefined ? 'n/a' : `${(rate * 100).toFixed(2)}%`,
    threshold: `< ${(errorRateBelow * 100).toFixed(2)}%`,
    detail: missing ?? '',
  });
}

function addConsensusCheck(add: (c: GateCheck) => void, layer: LayerId, inputs: GateInputs): void {
  const { agreed, now, config } = inputs;
  const maxAge = inputs.timing.maxSampleAgeMs;
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
