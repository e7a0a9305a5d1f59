import { layerIds, type LayerId } from '../config/index.js';

/**
 * The measurement vector m_i each node contributes to an epoch (DESIGN §3): per layer, the node's own
 * amplification, error rate and burden rate, plus whether it reports the layer at all, how many operations the
 * window held, and whether the window is settled (reporting, and no change of the layer or the one below it inside
 * the window). Every entry is something whose *mean* over the cluster means something, so the agreed vector x̄ can
 * be turned back into cluster-wide figures (see agreedLayerView).
 */
export const measurementFields = [
  'amplification',
  'error_rate',
  'burden_rate',
  'reporting',
  'samples',
  'settled',
] as const;
export type MeasurementField = (typeof measurementFields)[number];

export const measurementKeys: readonly string[] = layerIds.flatMap((layer) =>
  measurementFields.map((field) => `${layer}.${field}`),
);

export type LayerMeasurement = Record<MeasurementField, number>;

export function emptyMeasurement(): number[] {
  return measurementKeys.map(() => 0);
}

export function indexOf(layer: LayerId, field: MeasurementField): number {
  return layerIds.indexOf(layer) * measurementFields.length + measurementFields.indexOf(field);
}

/** Builds a vector from per-layer figures; a layer this node does not run contributes zeros. */
export function measurementVector(layers: Partial<Record<LayerId, LayerMeasurement>>): number[] {
  const vector = emptyMeasurement();
  for (const layer of layerIds) {
    const m = layers[layer];
    if (!m) continue;
    for (const field of measurementFields) {
      const value = m[field];
      // A NaN or infinity would poison every node's average for the whole epoch: it is "no data", i.e. 0.
      vector[indexOf(layer, field)] = Number.isFinite(value) ? value : 0;
    }
  }
  return vector;
}

export interface AgreedLayer {
  /** Instances whose measurement of this layer went into the figures. */
  reportingInstances: number;
  /** True when every reporting instance's window is settled (see LayerSnapshot.settled): only then can it be judged. */
  settled: boolean;
  /** Mean amplification over the instances that report the layer; undefined when none does. */
  amplification?: number;
  errorRate?: number;
  /** Cluster-wide burden rate, hours saved per hour. */
  burdenRate: number;
  /** Operations in the window, cluster-wide. */
  samples: number;
}

/**
 * Cluster-wide per-layer figures from the agreed mean x̄ of `members` vectors. Means of "reporting"-weighted
 * entries divided by the mean of "reporting" give averages over the instances that run the layer, so a layer out
 * on alpha only is judged by alpha, not diluted by the instances where it is off.
 */
export function agreedLayerView(agreed: readonly number[], members: number): Record<LayerId, AgreedLayer> {
  const at = (layer: LayerId, field: MeasurementField) => agreed[indexOf(layer, field)] ?? 0;
  const view = {} as Record<LayerId, AgreedLayer>;
  for (const layer of layerIds) {
    const reporting = at(layer, 'reporting');
    const reportingInstances = Math.round(reporting * members);
    view[layer] = {
      reportingInstances,
      settled: reportingInstances > 0 && Math.round(at(layer, 'settled') * members) >= reportingInstances,
      ...(reportingInstances > 0
        ? {
            amplification: at(layer, 'amplification') / reporting,
            errorRate: at(layer, 'error_rate') / reporting,
          }
        : {}),
      burdenRate: at(layer, 'burden_rate') * members,
      samples: Math.round(at(layer, 'samples') * members),
    };
  }
  return view;
}

/**
 * How far one member's own measurement sits from the cluster (instance_divergence): for each layer the member
 * reports, its amplification and error rate against the mean over the members that report that layer, relative to
 * that mean (max(1, |mean|) near zero). Layers it does not run are not disagreement: R6 runs on the leader only, and
 * counting its zeros elsewhere would make every node look divergent all the time.
 */
export function memberDivergence(own: readonly number[], all: readonly (readonly number[])[]): number {
  let worst = 0;
  for (const layer of layerIds) {
    const rep = indexOf(layer, 'reporting');
    if (!((own[rep] ?? 0) > 0)) continue;
    const weight = all.reduce((s, v) => s + (v[rep] ?? 0), 0);
    for (const field of ['amplification', 'error_rate'] as const) {
      const k = indexOf(layer, field);
      const mean = all.reduce((s, v) => s + (v[k] ?? 0), 0) / weight;
      worst = Math.max(worst, Math.abs((own[k] ?? 0) / (own[rep] ?? 1) - mean) / Math.max(1, Math.abs(mean)));
    }
  }
  return worst;
}

/** One instance's own figures for one layer, as its epoch snapshot carried them. */
export interface InstanceFigures {
  amplification?: number;
  errorRate?: number;
  samples: number;
  settled: boolean;
}

/** One instance's own per-layer figures, read back from its measurement vector (its epoch snapshot). */
export function instanceLayerFigures(vector: readonly number[]): Record<LayerId, InstanceFigures> {
  const at = (layer: LayerId, field: MeasurementField) => vector[indexOf(layer, field)] ?? 0;
  const result = {} as Record<LayerId, InstanceFigures>;
  for (const layer of layerIds) {
    const samples = at(layer, 'samples');
    result[layer] = {
      samples,
      settled: at(layer, 'settled') > 0,
      ...(at(layer, 'reporting') > 0 ? { amplification: at(layer, 'amplification') } : {}),
      ...(samples > 0 ? { errorRate: at(layer, 'error_rate') } : {}),
    };
  }
  return result;
}
