import { layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import type { HealthReport, LayerHealth } from '../protocol/index.js';
import { activeLayers, isActive, type DesiredState } from './desired-state.js';
import type { AgreedFigures } from './gates.js';

export interface InstanceView {
  instance: string;
  reachable: boolean;
  appliedVersion: number;
  /** Layers the node runs (its applied state), e.g. ["R1", "R2"]. */
  appliedLayers: string[];
}

export interface HealthInputs {
  config: LayersConfig;
  layers: readonly LayerId[];
  desired: { version: number; state: DesiredState };
  instances: readonly InstanceView[];
  agreed?: AgreedFigures;
  consensus?: { error: number; converged: boolean; at: number; unreachable: string[] };
  /** The operations plan's P0 error rate (FrameworkErrorRateHigh): above it a layer FAILs, above the gate it WARNs. */
  errorRateFail?: number;
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
    let status: 'OK' | 'WARN' | 'FAIL' | 'OFF' = enabledOn.length === 0 && appliedOn.length === 0 ? 'OFF' : 'OK';
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
    if (status !== 'OFF') {
      if (amplification === undefined || (figures?.samples ?? 0) === 0) {
        if (band) {
          problems.push('no agreed amplification yet');
          worsen('WARN');
        }
      } else if (band) {
        if (amplification < band.alertBelow) {
          problems.push(`amplification ${amplification.toFixed(2)} below alert threshold ${band.alertBelow}`);
          worsen('FAIL');
        } else if (amplification < band.acceptable[0] || amplification > band.acceptable[1]) {
          problems.push(
            `amplification ${amplification.toFixed(2)} outside ${band.acceptable[0]}–${band.acceptable[1]}`,
          );
          worsen('WARN');
        }
      }
      if (errorRate !== undefined && (figures?.samples ?? 0) > 0) {
        if (errorRate > (inputs.errorRateFail ?? 0.05)) {
          problems.push(
            `error rate ${(errorRate * 100).toFixed(2)}% above ${((inputs.errorRateFail ?? 0.05) * 100).toFixed(0)}%`,
          );
          worsen('FAIL');
        } else if (errorRate >= config.gates.errorRateBelow) {
          problems.push(
            `error rate ${(errorRate * 100).toFixed(2)}% at or above ${(config.gates.errorRateBelow * 100).toFixed(0)}%`,
          );
          worsen('WARN');
        }
      }
    }
    return {
      layer,
      status,
      enabled_on: enabledOn,
      applied_on: appliedOn,
      has_amplification: amplification !== undefined,
      amplification: amplification ?? 0,
      acceptable_low: band?.acceptable[0] ?? 0,
      acceptable_high: band?.acceptable[1] ?? 0,
      alert_below: band?.alertBelow ?? 0,
      has_error_rate: errorRate !== undefined,
      error_rate: errorRate ?? 0,
      samples: figures?.samples ?? 0,
      problems,
    };
  });
  const consensusOk = inputs.consensus?.converged ?? false;
  const unreachable = instances.filter((i) => !i.reachable).map((i) => i.instance);
  return {
    layers: report,
    desired_version: desired.version,
    consensus_error: inputs.consensus?.error ?? 0,
    consensus_converged: consensusOk,
    consensus_at_ms: inputs.consensus?.at ?? 0,
    unreachable,
    healthy: report.every((l) => l.status !== 'FAIL') && consensusOk && unreachable.length === 0,
  };
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
