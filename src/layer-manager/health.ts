import { layerIds, type AmplificationBand, type LayerId, type LayersConfig } from '../config/index.js';
import { activeLayers, isActive, type DesiredState } from './desired-state.js';
import type { AgreedFigures } from './gates.js';

export interface InstanceView {
  instance: string;
  reachable: boolean;
  appliedVersion: number;
  /** Layers the node runs (its applied state), e.g. ["R1", "R2"]. */
  appliedLayers: string[];
}

export type HealthStatus = 'OK' | 'WARN' | 'FAIL' | 'OFF';

/** One instance where the layer should run, judged on its own figures (its snapshot in the last epoch). */
export interface InstanceLayerHealth {
  instance: string;
  /** UNKNOWN: no figures to judge (none yet, too few samples, a window that spans a change). */
  status: 'OK' | 'WARN' | 'FAIL' | 'UNKNOWN';
  amplification?: number;
  errorRate?: number;
  samples: number;
  settled: boolean;
  problems: string[];
  /** When the epoch these figures come from started (ms), if there was one. */
  atMs?: number;
  /** The verdict taken apart, one row per criterion, so a reader sees what was measured against what. */
  checks: HealthCheck[];
}

/** One criterion of an instance's judgement: the measured value, what it is judged against, and the verdict. */
export interface HealthCheck {
  check: 'samples' | 'settled' | 'amplification' | 'error_rate';
  /** UNKNOWN: not judged (no figure, too few samples, a window spanning a change). */
  status: 'PASS' | 'WARN' | 'FAIL' | 'UNKNOWN';
  measured: string;
  threshold: string;
  samples: number;
}

export interface LayerHealth {
  layer: LayerId;
  status: HealthStatus;
  enabledOn: string[];
  appliedOn: string[];
  /** Agreed across the cluster (consensus). */
  amplification?: number;
  band?: { acceptable: readonly [number, number]; alertBelow: number };
  errorRate?: number;
  samples: number;
  problems: string[];
  instances: InstanceLayerHealth[];
}

export interface HealthReport {
  layers: LayerHealth[];
  desiredVersion: number;
  consensus?: { error: number; converged: boolean; atMs: number };
  unreachable: string[];
  healthy: boolean;
}

export interface HealthInputs {
  config: LayersConfig;
  layers: readonly LayerId[];
  desired: { version: number; state: DesiredState };
  instances: readonly InstanceView[];
  agreed?: AgreedFigures;
  consensus?: { error: number; converged: boolean; at: number };
  /** The operations plan's P0 error rate (FrameworkErrorRateHigh): above it a layer FAILs, above the gate it WARNs. */
  errorRateFail?: number;
  /** Fewer operations than this in an instance's window is too little to judge it (the profile's minimum). */
  minSamples: number;
}

type Status = 'OK' | 'WARN' | 'FAIL';

/** Amplification and error rate against the band and the gate: the verdict and what is wrong, for one figure set. */
function judgeFigures(
  band: AmplificationBand | undefined,
  amplification: number | undefined,
  errorRate: number | undefined,
  limits: { errorRateFail: number; errorRateWarn: number },
  prefix = '',
): { status: Status; problems: string[] } {
  let status: Status = 'OK';
  const problems: string[] = [];
  const worsen = (to: 'WARN' | 'FAIL', problem: string) => {
    status = status === 'FAIL' || to === 'FAIL' ? 'FAIL' : 'WARN';
    problems.push(`${prefix}${problem}`);
  };
  if (band && amplification !== undefined) {
    if (amplification < band.alertBelow)
      worsen('FAIL', `amplification ${amplification.toFixed(2)} below alert threshold ${band.alertBelow}`);
    else if (amplification < band.acceptable[0] || amplification > band.acceptable[1])
      worsen('WARN', `amplification ${amplification.toFixed(2)} outside ${band.acceptable[0]}–${band.acceptable[1]}`);
  }
  if (errorRate !== undefined) {
    if (errorRate > limits.errorRateFail)
      worsen('FAIL', `error rate ${(errorRate * 100).toFixed(2)}% above ${(limits.errorRateFail * 100).toFixed(0)}%`);
    else if (errorRate >= limits.errorRateWarn)
      worsen(
        'WARN',
        `error rate ${(errorRate * 100).toFixed(2)}% at or above ${(limits.errorRateWarn * 100).toFixed(0)}%`,
      );
  }
  return { status, problems };
}

/**
 * `check-health` (operations plan §3.1 "Verify activation"): per layer, where it should run and where it does, and
 * its agreed amplification and error rate against the configured band. FAIL below the alert threshold or when a node
 * runs something other than what it should; WARN outside the acceptable band or without data to judge.
 */
export function layerHealth(inputs: HealthInputs): HealthReport {
  const { config, desired, instances, agreed } = inputs;
  const names = instances.map((i) => i.instance);
  const report: LayerHealth[] = inputs.layers.map((layer) => {
    const enabledOn = names.filter((n) => isActive(desired.state, n, layer));
    const appliedOn = instances
      .filter((i) => i.appliedLayers.some((l) => l === layer || l.startsWith(`${layer}@`)))
      .map((i) => i.instance);
    const problems: string[] = [];
    let status: HealthStatus = enabledOn.length === 0 && appliedOn.length === 0 ? 'OFF' : 'OK';
    const worsen = (to: 'WARN' | 'FAIL') => (status = status === 'FAIL' || to === 'FAIL' ? 'FAIL' : 'WARN');
    for (const i of instances) {
      const should = enabledOn.includes(i.instance);
      const does = appliedOn.includes(i.instance);
      if (!i.reachable && should) {
        problems.push(`${i.instance} unreachable`);
        worsen('FAIL');
      } else if (i.reachable && should !== does) {
        problems.push(
          `${i.instance} ${should ? 'should run it but does not' : 'runs it but should not'} (applied v${i.appliedVersion}, desired v${desired.version})`,
        );
        worsen('FAIL');
      }
    }
    const band = config.layers.find((l) => l.id === layer)?.amplification;
    const figures = agreed?.layers[layer];
    const amplification = figures?.amplification;
    const errorRate = figures?.errorRate;
    const limits = { errorRateFail: inputs.errorRateFail ?? 0.05, errorRateWarn: config.gates.errorRateBelow };
    const perInstance = enabledOn.map((instance) => instanceHealth(instance, layer, band, inputs, limits));
    if (status !== 'OFF') {
      const samples = figures?.samples ?? 0;
      const unjudged =
        band && (amplification === undefined || samples === 0)
          ? 'no agreed amplification yet'
          : samples > 0 && figures?.settled === false
            ? 'the window spans a recent change on an instance: not judged until it turns over'
            : undefined;
      if (unjudged) {
        problems.push(unjudged);
        worsen('WARN');
      }
      const cluster = unjudged
        ? { status: 'OK' as const, problems: [] }
        : judgeFigures(band, samples > 0 ? amplification : undefined, samples > 0 ? errorRate : undefined, limits);
      // An instance that cannot be judged yet says why in its own row; only verdicts reach the layer's status.
      for (const judged of [cluster, ...perInstance]) {
        if (judged.status !== 'FAIL' && judged.status !== 'WARN') continue;
        problems.push(...judged.problems);
        worsen(judged.status);
      }
    }
    return {
      layer,
      status,
      enabledOn,
      appliedOn,
      ...(amplification !== undefined ? { amplification } : {}),
      ...(band ? { band: { acceptable: band.acceptable, alertBelow: band.alertBelow } } : {}),
      ...(errorRate !== undefined ? { errorRate } : {}),
      samples: figures?.samples ?? 0,
      problems,
      instances: perInstance,
    };
  });
  const consensusOk = inputs.consensus?.converged ?? false;
  const unreachable = instances.filter((i) => !i.reachable).map((i) => i.instance);
  return {
    layers: report,
    desiredVersion: desired.version,
    ...(inputs.consensus
      ? { consensus: { error: inputs.consensus.error, converged: consensusOk, atMs: inputs.consensus.at } }
      : {}),
    unreachable,
    healthy: report.every((l) => l.status !== 'FAIL') && consensusOk && unreachable.length === 0,
  };
}

/** One instance's own figures for the layer (its snapshot in the last epoch), judged like the cluster's. */
function instanceHealth(
  instance: string,
  layer: LayerId,
  band: AmplificationBand | undefined,
  inputs: HealthInputs,
  limits: { errorRateFail: number; errorRateWarn: number },
): InstanceLayerHealth {
  const own = inputs.agreed?.instances[instance]?.[layer];
  const samples = own?.samples ?? 0;
  const base = {
    instance,
    ...(own?.amplification !== undefined ? { amplification: own.amplification } : {}),
    ...(own?.errorRate !== undefined ? { errorRate: own.errorRate } : {}),
    samples,
    settled: own?.settled ?? false,
    ...(inputs.agreed ? { atMs: inputs.agreed.at } : {}),
  };
  const judgeable = own !== undefined && samples >= inputs.minSamples && own.settled;
  // Each figure judged alone by the same judgeFigures as the verdict, so the rows can never disagree with it.
  const verdict = (j: { status: Status }): HealthCheck['status'] => (j.status === 'OK' ? 'PASS' : j.status);
  const checks: HealthCheck[] = [
    {
      check: 'samples',
      status: samples >= inputs.minSamples ? 'PASS' : 'UNKNOWN',
      measured: String(samples),
      threshold: `≥ ${inputs.minSamples} operations`,
      samples,
    },
    {
      check: 'settled',
      status: !own ? 'UNKNOWN' : own.settled ? 'PASS' : 'UNKNOWN',
      measured: !own ? '-' : own.settled ? 'settled' : 'spans a change',
      threshold: 'window settled',
      samples,
    },
    ...(band
      ? [
          {
            check: 'amplification' as const,
            status:
              judgeable && own.amplification !== undefined
                ? verdict(judgeFigures(band, own.amplification, undefined, limits))
                : ('UNKNOWN' as const),
            measured: own?.amplification !== undefined ? own.amplification.toFixed(2) : '-',
            threshold: `${band.acceptable[0]}–${band.acceptable[1]} (FAIL below ${band.alertBelow})`,
            samples,
          },
        ]
      : []),
    {
      check: 'error_rate',
      status:
        judgeable && own.errorRate !== undefined
          ? verdict(judgeFigures(undefined, undefined, own.errorRate, limits))
          : 'UNKNOWN',
      measured: own?.errorRate !== undefined ? `${(own.errorRate * 100).toFixed(2)}%` : '-',
      threshold: `< ${(limits.errorRateWarn * 100).toFixed(0)}% (FAIL above ${(limits.errorRateFail * 100).toFixed(0)}%)`,
      samples,
    },
  ];
  const unknown = (why: string): InstanceLayerHealth => ({
    ...base,
    status: 'UNKNOWN',
    problems: [`${instance}: ${why}`],
    checks,
  });
  if (!own || (own.amplification === undefined && own.errorRate === undefined)) return unknown('no figures yet');
  if (own.samples < inputs.minSamples)
    return unknown(`${own.samples} operations in the window, need ${inputs.minSamples} to judge`);
  if (!own.settled) return unknown('window spans a recent change: not judged until it turns over');
  const judged = judgeFigures(band, own.amplification, own.errorRate, limits, `${instance}: `);
  return { ...base, ...judged, checks };
}

/** All six layers, or the ones asked for. */
export function healthLayers(requested: readonly string[]): LayerId[] {
  return requested.length === 0 ? [...layerIds] : (requested as LayerId[]);
}

export function appliedLayerNames(state: DesiredState, instance: string): string[] {
  return activeLayers(state, instance).map((l) => {
    const p = state.instances[instance]?.[l].percentage ?? 100;
    return p === 100 ? l : `${l}@${p}%`;
  });
}
