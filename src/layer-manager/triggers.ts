import { layerIds, type LayerId, type LayersConfig, type RollbackTriggerConfig, type Timing } from '../config/index.js';
import type { InstanceFigures } from '../consensus/index.js';

/** One instance's own figures for a layer, from its snapshot in the last epoch. */
export type InstanceLayerFigures = InstanceFigures;

export interface TriggerInputs {
  now: number;
  /** Layers active per instance (desired state). */
  active: (instance: string, layer: LayerId) => boolean;
  instances: readonly string[];
  /** Per instance and layer, what that instance measured (undefined: it could not be read this epoch). */
  figures: (instance: string, layer: LayerId) => InstanceLayerFigures | undefined;
  consensusError: number;
  /**
   * Per instance and layer, latency and throughput over the window and the baseline they are judged against (read
   * from operation_history, see performance.ts); undefined: not judgeable (no baseline yet, a window spanning a
   * change, too few operations). Without it the latency_p99 and throughput triggers never hold.
   */
  performance?: (instance: string, layer: LayerId) => LayerPerformance | undefined;
}

/** Latency and throughput of one layer on one instance over a window. */
export interface PerformanceFigures {
  p99Ms: number;
  /** Operations per second, divided by the layer's rollout share (a layer at 50 % runs half the keys). */
  throughputPerS: number;
  samples: number;
}

export interface LayerPerformance extends PerformanceFigures {
  /** The same layer on the same instance over the window before its last change; absent: no baseline known. */
  baseline?: PerformanceFigures;
}

/** The fewest operations (in the window, and in the baseline) a p99 is judged on. */
export const minP99Samples = 100;

export interface TriggerFiring {
  trigger: RollbackTriggerConfig;
  layer: LayerId;
  instance: string;
  value: number;
  /** How long the condition had held when it fired. */
  heldMs: number;
  /** The evaluation's clock reading: the hold reached its `for:` at `at − heldMs + hold`. */
  at: number;
}

/**
 * The automatic rollback triggers of layers.yaml, evaluated each epoch on the leader. A condition must hold
 * continuously for its hold (`for:`, never shorter than the figure's window; from the injected clock) before it
 * fires; it fires once per hold, and a figure that cannot be judged (no data, too few samples, a window that spans a
 * change of the layer or the one below it) ends the hold rather than extending it. Nothing here ever activates a
 * layer: a metric that recovers only clears the hold.
 */
export class TriggerEvaluator {
  private readonly holding = new Map<string, number>();
  private readonly fired = new Set<string>();

  constructor(
    private readonly config: LayersConfig,
    /** `minSamples`: fewer operations than this on an instance is too little to roll back on. */
    private readonly timing: Pick<Timing, 'holdMs' | 'minSamples'>,
  ) {}

  evaluate(inputs: TriggerInputs): TriggerFiring[] {
    const firings: TriggerFiring[] = [];
    const seen = new Set<string>();
    for (const trigger of this.config.rollbackTriggers) {
      const layers = trigger.layer === '*' ? layerIds : [trigger.layer];
      for (const layer of layers) {
        for (const instance of inputs.instances) {
          if (!inputs.active(instance, layer)) continue;
          const key = `${trigger.id}|${layer}|${instance}`;
          const value = this.valueOf(trigger, layer, instance, inputs);
          const holds =
            value !== undefined && (trigger.op === 'below' ? value < trigger.threshold : value > trigger.threshold);
          if (!holds) continue;
          seen.add(key);
          const since = this.holding.get(key) ?? inputs.now;
          this.holding.set(key, since);
          const heldMs = inputs.now - since;
          if (heldMs >= this.timing.holdMs(trigger) && !this.fired.has(key)) {
            this.fired.add(key);
            firings.push({ trigger, layer, instance, value, heldMs, at: inputs.now });
          }
        }
      }
    }
    // A hold that did not continue this epoch is over; a new hold may fire again (the layer was re-activated).
    for (const key of [...this.holding.keys()]) {
      if (!seen.has(key)) {
        this.holding.delete(key);
        this.fired.delete(key);
      }
    }
    return firings;
  }

  /** Forgets that a firing happened, so the next evaluation fires again (its rollback could not be applied). */
  retry(firing: TriggerFiring): void {
    this.fired.delete(`${firing.trigger.id}|${firing.layer}|${firing.instance}`);
  }

  private valueOf(
    trigger: RollbackTriggerConfig,
    layer: LayerId,
    instance: string,
    inputs: TriggerInputs,
  ): number | undefined {
    if (trigger.metric === 'consensus_error') return inputs.consensusError;
    const f = inputs.figures(instance, layer);
    if (!f || f.samples < this.timing.minSamples || !f.settled) return undefined;
    switch (trigger.metric) {
      case 'amplification':
        return f.amplification;
      case 'error_rate':
        return f.errorRate;
      case 'latency_p99': {
        const p = inputs.performance?.(instance, layer);
        // Below 100 operations a p99 is just the slowest one: one stall would read as a regression.
        const enough = Math.max(this.timing.minSamples, minP99Samples);
        if (!p?.baseline || p.samples < enough || p.baseline.samples < enough || !(p.baseline.p99Ms > 0))
          return undefined;
        return p.p99Ms / p.baseline.p99Ms;
      }
      case 'throughput': {
        const p = inputs.performance?.(instance, layer);
        const reference = trigger.relativeTo === 'target' ? trigger.target : p?.baseline?.throughputPerS;
        // Zero operations is a throughput of 0, but p is then undefined (nothing read): the error-rate and
        // amplification triggers and the runtime's health cover a layer that stopped entirely.
        if (!p || reference === undefined || !(reference > 0)) return undefined;
        return p.throughputPerS / reference;
      }
      case 'amplification_drop': {
        const expected = this.config.layers.find((l) => l.id === layer)?.amplification?.expected;
        return expected === undefined || f.amplification === undefined
          ? undefined
          : (expected - f.amplification) / expected;
      }
    }
  }
}

/**
 * How long a failing layer would run before a trigger rolls it back: the window its figures need to turn over,
 * plus the trigger's hold, plus one evaluation interval. Printed by an activation's --dry-run, fastest first.
 */
export function detectionBudgets(
  layer: LayerId,
  config: LayersConfig,
  timing: Pick<Timing, 'windowMs' | 'epochIntervalMs' | 'holdMs'>,
): { triggerId: string; budgetMs: number; forMs: number }[] {
  return config.rollbackTriggers
    .filter((t) => t.layer === layer || t.layer === '*')
    .filter((t) => t.metric !== 'amplification_drop' || config.layers.find((l) => l.id === layer)?.amplification)
    .map((t) => {
      const forMs = timing.holdMs(t);
      // A consensus-error trigger reads each epoch's own figure, not a window of operations.
      const windowMs = t.metric === 'consensus_error' ? 0 : timing.windowMs;
      return { triggerId: t.id, forMs, budgetMs: windowMs + forMs + timing.epochIntervalMs };
    })
    .sort((a, b) => a.budgetMs - b.budgetMs);
}
