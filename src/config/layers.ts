import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { durationMs } from './duration.js';
import { parseLocatedYaml } from './located-yaml.js';

export const layerIds = ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'] as const;
export type LayerId = (typeof layerIds)[number];

export function isLayerId(value: string): value is LayerId {
  return (layerIds as readonly string[]).includes(value);
}

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

export type TriggerMetric = 'amplification' | 'consensus_error' | 'error_rate' | 'amplification_drop';

export interface RollbackTriggerConfig {
  id: string;
  /** A layer, or '*' for every active layer. */
  layer: LayerId | '*';
  metric: TriggerMetric;
  op: 'below' | 'above';
  threshold: number;
  forMs: number;
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
const ratio = z.number().positive('expected a ratio > 0');

const Band = z
  .strictObject({
    expected: ratio,
    acceptable: z.tuple([ratio, ratio]),
    alert_below: ratio,
    hysteresis: z.number().min(0).default(0.05),
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
  name: z.string().min(1),
  priority: z.number().int().min(1),
  requires: z.array(layerId).optional(),
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
    .array(z.strictObject({ id: frameworkId, description: z.string().default('') }))
    .min(1, 'expected at least one framework'),
});

const Trigger = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case id'),
    layer: z.union([layerId, z.literal('*')]),
    metric: z.enum(['amplification', 'consensus_error', 'error_rate', 'amplification_drop']),
    below: z.number().optional(),
    above: z.number().optional(),
    for: durationMs,
  })
  .superRefine((t, ctx) => {
    if ((t.below === undefined) === (t.above === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['below'], message: 'expected exactly one of "below" or "above"' });
    }
  });

const LayersFile = z
  .strictObject({
    gates: z
      .strictObject({
        consensus_error_below: z.number().positive().default(0.01),
        error_rate_below: z.number().positive().max(1).default(0.01),
        min_samples: z.number().int().min(1).default(20),
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
        min_samples: z.number().int().min(1).default(10),
      })
      .prefault({}),
    stages: z
      .array(
        z.strictObject({ stage: z.number().int().min(1), layers: z.array(layerId).min(1), stable_for: durationMs }),
      )
      .min(1),
    layers: z.array(Layer).min(1),
    rollback_triggers: z.array(Trigger).default([]),
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
    rollbackTriggers: file.rollback_triggers.map((t) => ({
      id: t.id,
      layer: t.layer,
      metric: t.metric,
      op: t.below !== undefined ? 'below' : 'above',
      threshold: t.below ?? t.above ?? 0,
      forMs: t.for,
    })),
    demo: {
      timeScale: file.demo.time_scale,
      minDurationMs: file.demo.min_duration,
      minSamples: file.demo.min_samples,
    },
  };
}

/** Rn requires R(n−1) on the same instance unless the file says otherwise (DESIGN §2). */
function defaultRequires(id: LayerId): LayerId[] {
  const index = layerIds.indexOf(id);
  return index > 0 ? [layerIds[index - 1] as LayerId] : [];
}

interface PathIssue {
  path: (string | number)[];
  message: string;
}

function crossFieldIssues(file: LayersFile): PathIssue[] {
  const issues: PathIssue[] = [];
  const indexOf = new Map<LayerId, number>();
  file.layers.forEach((layer, i) => {
    const first = indexOf.get(layer.id);
    if (first !== undefined)
      issues.push({ path: ['layers', i, 'id'], message: `duplicate layer "${layer.id}" (first at layers.${first})` });
    else indexOf.set(layer.id, i);
    if (layer.id === 'R1' && layer.amplification) {
      issues.push({
        path: ['layers', i, 'amplification'],
        message: 'R1 is the baseline: its ratio is 1 by definition',
      });
    }
    if (layer.id !== 'R1' && !layer.amplification) {
      issues.push({
        path: ['layers', i],
        message: `${layer.id} needs an amplification band (expected, acceptable, alert_below)`,
      });
    }
  });
  for (const id of layerIds) {
    if (!indexOf.has(id)) issues.push({ path: ['layers'], message: `layer ${id} is missing (expected R1 through R6)` });
  }

  const priorities = new Map<number, LayerId>();
  const frameworks = new Map<string, string>();
  file.layers.forEach((layer, i) => {
    const other = priorities.get(layer.priority);
    if (other !== undefined)
      issues.push({
        path: ['layers', i, 'priority'],
        message: `priority ${layer.priority} is already used by ${other}`,
      });
    else priorities.set(layer.priority, layer.id);
    layer.requires?.forEach((req, j) => {
      if (req === layer.id)
        issues.push({ path: ['layers', i, 'requires', j], message: `${layer.id} cannot require itself` });
    });
    layer.frameworks.forEach((f, j) => {
      const at = ['layers', i, 'frameworks', j, 'id'];
      if (!f.id.startsWith(`${layer.id}_`))
        issues.push({ path: at, message: `framework "${f.id}" must start with its layer "${layer.id}_"` });
      const seen = frameworks.get(f.id);
      if (seen !== undefined) issues.push({ path: at, message: `duplicate framework "${f.id}" (first at ${seen})` });
      else frameworks.set(f.id, at.join('.'));
    });
  });

  const cycle = findCycle(file.layers.map((l) => ({ id: l.id, requires: l.requires ?? defaultRequires(l.id) })));
  if (cycle) {
    const at = indexOf.get(cycle[0] as LayerId) ?? 0;
    issues.push({ path: ['layers', at, 'requires'], message: `dependency cycle: ${cycle.join(' → ')}` });
  }

  const stageOf = new Map<LayerId, number>();
  const stageNumbers = new Set<number>();
  file.stages.forEach((s, i) => {
    if (stageNumbers.has(s.stage)) issues.push({ path: ['stages', i, 'stage'], message: `duplicate stage ${s.stage}` });
    stageNumbers.add(s.stage);
    s.layers.forEach((l, j) => {
      if (stageOf.has(l))
        issues.push({ path: ['stages', i, 'layers', j], message: `${l} is already in stage ${stageOf.get(l)}` });
      else stageOf.set(l, s.stage);
    });
  });
  for (const id of indexOf.keys()) {
    if (!stageOf.has(id)) issues.push({ path: ['stages'], message: `layer ${id} is in no rollout stage` });
  }
  // A layer may only require layers that go out in the same or an earlier stage, or its gate could never pass.
  file.layers.forEach((layer, i) => {
    const own = stageOf.get(layer.id) ?? 0;
    (layer.requires ?? defaultRequires(layer.id)).forEach((req, j) => {
      if ((stageOf.get(req) ?? 0) > own) {
        issues.push({
          path: ['layers', i, 'requires', j],
          message: `${layer.id} (stage ${own}) requires ${req}, which goes out later (stage ${stageOf.get(req)})`,
        });
      }
    });
  });
  return issues;
}

/** The first dependency cycle found, as a closed walk (`R2 → R3 → R2`), or undefined. */
function findCycle(graph: { id: LayerId; requires: readonly LayerId[] }[]): LayerId[] | undefined {
  const edges = new Map(graph.map((n) => [n.id, n.requires]));
  const state = new Map<LayerId, 'visiting' | 'done'>();
  const stack: LayerId[] = [];
  const visit = (id: LayerId): LayerId[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const next of edges.get(id) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of graph) {
    const found = visit(node.id);
    if (found) return found;
  }
  return undefined;
}
