import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { durationMs, periodMs } from './duration.js';
import { crossFieldIssues, defaultRequires } from './layers-rules.js';
import { parseLocatedYaml } from './located-yaml.js';

import { layerIds, type LayerId } from './layer-ids.js';

export { isLayerId, layerIds } from './layer-ids.js';
export type { LayerId } from './layer-ids.js';

/** Greek name of each layer's ratio (DESIGN §4: α…ε are R2…R6). */
export const ratioNames: Record<LayerId, string> = { R1: '1', R2: 'α', R3: 'β', R4: 'γ', R5: 'δ', R6: 'ε' };

export interface AmplificationBand {
  expected: number;
  acceptable: readonly [number, number];
  alertBelow: number;
  /** Extra margin a value must clear to re-enter the acceptable band once it has left it (no flapping at a bound). */
  hysteresis: number;
}

export interface FrameworkConfig {
  id: string;
  layer: LayerId;
  description: string;
}

export interface LayerConfig {
  id: LayerId;
  name: string;
  priority: number;
  stage: number;
  requires: readonly LayerId[];
  frameworks: readonly FrameworkConfig[];
  /** Absent for R1, whose ratio is 1 by definition. */
  amplification?: AmplificationBand;
  /** Cron expression; R6 runs only on its schedule (and on demand). */
  schedule?: string;
}

export interface StageConfig {
  stage: number;
  layers: readonly LayerId[];
  /** How long the stage must have run clean before a later stage's gate passes ("7 days stable"). */
  stableForMs: number;
}

export type TriggerMetric =
  'amplification' | 'consensus_error' | 'error_rate' | 'amplification_drop' | 'latency_p99' | 'throughput';

export interface RollbackTriggerConfig {
  id: string;
  /** A layer, or '*' for every active layer. */
  layer: LayerId | '*';
  metric: TriggerMetric;
  op: 'below' | 'above';
  threshold: number;
  forMs: number;
  /**
   * latency_p99 and throughput only: the threshold is a ratio of this reference — the same layer's figure over the
   * window before its last change on the instance ('baseline'), or `target` operations per second ('target').
   */
  relativeTo?: 'baseline' | 'target';
  /** Operations per second per instance at 100 % (relativeTo 'target'). */
  target?: number;
}

export interface GateConfig {
  consensusErrorBelow: number;
  errorRateBelow: number;
  minSamples: number;
  maxSampleAgeMs: number;
}

export interface LayersConfig {
  layers: readonly LayerConfig[];
  stages: readonly StageConfig[];
  gates: GateConfig;
  rollbackTriggers: readonly RollbackTriggerConfig[];
  /**
   * Demo profile: every duration is multiplied by `timeScale` (with a floor) so week-long gates take seconds, and the
   * sample minimum is the demo's own (a demo window holds far fewer operations than a production one).
   */
  demo: { timeScale: number; minDurationMs: number; minSamples: number };
}

const layerId = z.enum(layerIds, { error: `expected one of ${layerIds.join(', ')}` });
const ratio = z.number().positive('expected a ratio > 0').max(1e6, 'expected a ratio ≤ 1e6');

const Band = z
  .strictObject({
    expected: ratio,
    acceptable: z.tuple([ratio, ratio]),
    alert_below: ratio,
    hysteresis: z.number().min(0).max(1).default(0.05),
  })
  .superRefine((band, ctx) => {
    const [low, high] = band.acceptable;
    if (low >= high)
      ctx.addIssue({
        code: 'custom',
        path: ['acceptable'],
        message: `expected [low, high] with low < high, received [${low}, ${high}]`,
      });
    else if (band.expected < low || band.expected > high) {
      ctx.addIssue({
        code: 'custom',
        path: ['expected'],
        message: `expected value ${band.expected} is outside acceptable [${low}, ${high}]`,
      });
    }
    if (band.alert_below > low) {
      ctx.addIssue({
        code: 'custom',
        path: ['alert_below'],
        message: `alert threshold ${band.alert_below} is above the acceptable floor ${low}`,
      });
    }
    if (band.hysteresis >= high - low) {
      ctx.addIssue({
        code: 'custom',
        path: ['hysteresis'],
        message: `hysteresis ${band.hysteresis} is not smaller than the acceptable band's width`,
      });
    }
  });

const frameworkId = z
  .string()
  .regex(/^R[1-6]_[A-Z0-9_]+$/, 'expected an id like "R5_CROSS_INSTANCE_D1" (layer prefix, then A-Z, 0-9, _)');

const Layer = z.strictObject({
  id: layerId,
  name: z.string().min(1).max(128),
  priority: z.number().int().min(1).max(1_000),
  requires: z.array(layerId).max(layerIds.length).optional(),
  amplification: Band.optional(),
  schedule: z
    .string()
    .superRefine((text, ctx) => {
      const fields = text.trim().split(/\s+/).length;
      try {
        if (fields !== 5) throw new Error(`${fields} fields`);
        CronExpressionParser.parse(text, { tz: 'UTC' });
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a five-field cron expression like "0 9 * * 1" (${(err as Error).message})`,
        });
      }
    })
    .optional(),
  frameworks: z
    .array(z.strictObject({ id: frameworkId.max(64), description: z.string().max(1_000).default('') }))
    .min(1, 'expected at least one framework')
    .max(256, 'expected at most 256 frameworks per layer'),
});

const ratioOfReference = z.number().positive('expected a ratio > 0').max(1_000, 'expected a ratio ≤ 1000');

const Trigger = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case id'),
    layer: z.union([layerId, z.literal('*')]),
    metric: z.enum([
      'amplification',
      'consensus_error',
      'error_rate',
      'amplification_drop',
      'latency_p99',
      'throughput',
    ]),
    below: z.number().min(-1e9).max(1e9).optional(),
    above: z.number().min(-1e9).max(1e9).optional(),
    above_ratio_of_baseline: ratioOfReference.optional(),
    below_ratio_of_baseline: ratioOfReference.optional(),
    below_ratio_of_target: ratioOfReference.optional(),
    /** Operations per second per instance at 100 %, for below_ratio_of_target. */
    target: z.number().positive('expected operations per second > 0').max(1e9).optional(),
    for: durationMs,
  })
  .superRefine((t, ctx) => {
    const conditions = (
      ['below', 'above', 'above_ratio_of_baseline', 'below_ratio_of_baseline', 'below_ratio_of_target'] as const
    ).filter((k) => t[k] !== undefined);
    // Which conditions each metric takes: a ratio needs a reference, so plain metrics take none and the ratio
    // metrics take only the direction that means "worse" (slower, or fewer operations).
    const allowed: readonly string[] =
      t.metric === 'latency_p99'
        ? ['above_ratio_of_baseline']
        : t.metric === 'throughput'
          ? ['below_ratio_of_baseline', 'below_ratio_of_target']
          : ['below', 'above'];
    const wrong = conditions.find((k) => !allowed.includes(k));
    if (wrong !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [wrong],
        message: `metric ${t.metric} takes ${allowed.map((a) => `"${a}"`).join(' or ')}, not "${wrong}"`,
      });
    } else if (conditions.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [conditions[1] ?? allowed[0] ?? 'below'],
        message: `expected exactly one of ${allowed.map((a) => `"${a}"`).join(' or ')}`,
      });
    }
    if (t.below_ratio_of_target !== undefined && t.target === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['below_ratio_of_target'],
        message: 'below_ratio_of_target needs "target" (operations per second per instance)',
      });
    if (t.target !== undefined && t.below_ratio_of_target === undefined)
      ctx.addIssue({ code: 'custom', path: ['target'], message: '"target" is only read by below_ratio_of_target' });
  });

const LayersFile = z
  .strictObject({
    gates: z
      .strictObject({
        consensus_error_below: z.number().positive().default(0.01),
        error_rate_below: z.number().positive().max(1).default(0.01),
        min_samples: z.number().int().min(1).max(1_000_000).default(20),
        max_sample_age: durationMs.default(300_000),
      })
      .prefault({}),
    demo: z
      .strictObject({
        time_scale: z
          .number()
          .positive()
          .max(1)
          .default(1 / 50_000),
        min_duration: durationMs.default(1_000),
        min_samples: z.number().int().min(1).max(1_000_000).default(10),
      })
      .prefault({}),
    stages: z
      .array(
        z.strictObject({
          stage: z.number().int().min(1).max(100),
          layers: z.array(layerId).min(1).max(layerIds.length),
          stable_for: periodMs,
        }),
      )
      .min(1)
      .max(100),
    layers: z.array(Layer).min(1).max(layerIds.length),
    rollback_triggers: z.array(Trigger).max(256).default([]),
  })
  .superRefine((file, ctx) => {
    for (const issue of crossFieldIssues(file)) ctx.addIssue({ code: 'custom', ...issue });
  });
type LayersFile = z.output<typeof LayersFile>;

export function parseLayersConfig(text: string, displayPath: string): LayersConfig {
  const file = parseLocatedYaml(displayPath, text, LayersFile);
  const stageOf = new Map<LayerId, number>();
  for (const s of file.stages) for (const l of s.layers) stageOf.set(l, s.stage);
  const layers = [...file.layers]
    .sort((a, b) => a.priority - b.priority)
    .map((l): LayerConfig => ({
      id: l.id,
      name: l.name,
      priority: l.priority,
      stage: stageOf.get(l.id) ?? 0,
      requires: l.requires ?? defaultRequires(l.id),
      frameworks: l.frameworks.map((f) => ({ id: f.id, layer: l.id, description: f.description })),
      ...(l.amplification && {
        amplification: {
          expected: l.amplification.expected,
          acceptable: l.amplification.acceptable,
          alertBelow: l.amplification.alert_below,
          hysteresis: l.amplification.hysteresis,
        },
      }),
      ...(l.schedule !== undefined && { schedule: l.schedule }),
    }));
  return {
    layers,
    stages: [...file.stages]
      .sort((a, b) => a.stage - b.stage)
      .map((s) => ({ stage: s.stage, layers: s.layers, stableForMs: s.stable_for })),
    gates: {
      consensusErrorBelow: file.gates.consensus_error_below,
      errorRateBelow: file.gates.error_rate_below,
      minSamples: file.gates.min_samples,
      maxSampleAgeMs: file.gates.max_sample_age,
    },
    rollbackTriggers: file.rollback_triggers.map((t): RollbackTriggerConfig => {
      const ratio = t.above_ratio_of_baseline ?? t.below_ratio_of_baseline ?? t.below_ratio_of_target;
      return {
        id: t.id,
        layer: t.layer,
        metric: t.metric,
        op:
          t.below !== undefined || t.below_ratio_of_baseline !== undefined || t.below_ratio_of_target !== undefined
            ? 'below'
            : 'above',
        threshold: ratio ?? t.below ?? t.above ?? 0,
        forMs: t.for,
        ...(ratio !== undefined && { relativeTo: t.below_ratio_of_target !== undefined ? 'target' : 'baseline' }),
        ...(t.target !== undefined && { target: t.target }),
      };
    }),
    demo: {
      timeScale: file.demo.time_scale,
      minDurationMs: file.demo.min_duration,
      minSamples: file.demo.min_samples,
    },
  };
}
