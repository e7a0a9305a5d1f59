import { layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import { unit } from './deterministic.js';
import type { FrameworkPlugin } from './plugin.js';

export interface SyntheticOptions {
  seed: string;
  /** R1's burden saved per week on one instance; every other layer follows from the expected ratios. */
  baseBurdenHoursPerWeek: number;
  /** How often each synthetic framework runs on an instance. */
  intervalMs: number;
  /** R6 runs on its schedule, not the interval: each run accounts for this much time. */
  r6PeriodMs: number;
}

/**
 * Target burden rate (hours saved per hour, one instance) per layer: R1 from the option, then each layer times its
 * expected ratio (α…ε of DESIGN §4), so the measured ratios land near the expected ones by construction.
 */
export function syntheticRates(config: LayersConfig, baseBurdenHoursPerWeek: number): Record<LayerId, number> {
  const rates = {} as Record<LayerId, number>;
  let rate = baseBurdenHoursPerWeek / 168;
  for (const id of layerIds) {
    const expected = config.layers.find((l) => l.id === id)?.amplification?.expected ?? 1;
    rate *= id === 'R1' ? 1 : expected;
    rates[id] = rate;
  }
  return rates;
}

/**
 * The built-in SYNTHETIC framework pack (for the demo and tests; named synthetic wherever it shows): one plugin per
 * framework of config/layers.yaml. Each run saves its layer's share of the target rate for one interval, with ±10 %
 * seeded noise, takes 5–25 ms (plus any injected latency, really waited), and fails only by injected fault.
 */
export function createSyntheticPack(config: LayersConfig, options: SyntheticOptions): FrameworkPlugin[] {
  const rates = syntheticRates(config, options.baseBurdenHoursPerWeek);
  return config.layers.flatMap((layer) =>
    layer.frameworks.map((framework): FrameworkPlugin => {
      const periodMs = layer.id === 'R6' ? options.r6PeriodMs : options.intervalMs;
      const perRun = (rates[layer.id] / layer.frameworks.length) * (periodMs / 3_600_000);
      return {
        id: framework.id,
        layer: layer.id,
        description: `${framework.description} (synthetic)`,
        synthetic: true,
        async run(ctx) {
          const draw = (what: string) => unit(options.seed, ctx.instance, ctx.operationKey, what);
          const durationMs = 5 + 20 * draw('duration') + ctx.fault.latencyMs;
          await ctx.clock.sleep(durationMs);
          const failed = draw('fail') < ctx.fault.errorRate;
          const burden = perRun * (0.9 + 0.2 * draw('burden')) * ctx.fault.burdenScale;
          return failed
            ? { durationMs, burdenSavedHours: 0, success: false, errorType: 'injected', details: { synthetic: true } }
            : { durationMs, burdenSavedHours: burden, success: true, details: { synthetic: true } };
        },
      };
    }),
  );
}
