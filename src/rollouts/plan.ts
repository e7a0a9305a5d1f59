import { z } from 'zod';
import { isLayerId, layerIds, parseLocatedYaml, periodMs, type LayerId } from '../config/index.js';
import { ConfigError, TriadError } from '../shared/index.js';
import { parseCondition } from './condition.js';

/**
 * Rollout plans (config/rollouts/*.yaml) and analysis templates (config/analysis/*.yaml): parsed with the same
 * located-YAML reader as every config file, so a mistake reads `config/rollouts/cascade.yaml:14:5: steps.3.wait.for: …`.
 * Durations are kept as configured; the executor compresses them with the profile's timing (the demo).
 */

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,47}$/, 'expected lower-case letters, digits and "-", up to 48, e.g. "cascade"');
const layer = z.string().refine(isLayerId, { message: `expected one of ${layerIds.join(', ')}` });
const condition = z.string().superRefine((text, ctx) => {
  try {
    parseCondition(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as TriadError).detail });
  }
});
const httpUrl = z
  .string()
  .max(500)
  .refine((u) => /^https?:\/\/[^\s]+$/.test(u), { message: 'expected an http:// or https:// URL' });

const triadProvider = z
  .object({
    figure: z.enum(['amplification', 'error_rate', 'consensus_error', 'samples']),
    /** The layer the figure is of; error_rate without one is the highest over every active layer. */
    layer: layer.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.figure === 'amplification' || p.figure === 'samples') && !p.layer)
      ctx.addIssue({ code: 'custom', message: `figure ${p.figure} needs a layer`, path: ['layer'] });
  });
const prometheusProvider = z.object({ address: httpUrl, query: z.string().min(1).max(2_000) }).strict();

const metric = z
  .object({
    name,
    interval: periodMs.default(300_000),
    /** Measurements an analysis step takes of this check (when the step names no `for`). */
    count: z.number().int().min(1).max(10_000).default(1),
    successCondition: condition,
    failureLimit: z.number().int().min(0).max(1_000).default(0),
    inconclusiveLimit: z.number().int().min(0).max(1_000).default(0),
    consecutiveErrorLimit: z.number().int().min(0).max(1_000).default(4),
    dryRun: z.boolean().default(false),
    provider: z
      .object({ triad: triadProvider.optional(), prometheus: prometheusProvider.optional() })
      .strict()
      .refine((p) => (p.triad ? 1 : 0) + (p.prometheus ? 1 : 0) === 1, {
        message: 'name exactly one provider: triad or prometheus',
      }),
  })
  .strict();

const templateSchema = z
  .object({
    name,
    description: z.string().max(500).optional(),
    metrics: z.array(metric).min(1).max(50),
  })
  .strict()
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    t.metrics.forEach((m, i) => {
      if (seen.has(m.name))
        ctx.addIssue({ code: 'custom', message: `check "${m.name}" is named twice`, path: ['metrics', i, 'name'] });
      seen.add(m.name);
    });
  });

export type AnalysisTemplate = z.output<typeof templateSchema>;
export type AnalysisMetric = AnalysisTemplate['metrics'][number];

const activate = z
  .object({
    layers: z.array(layer).min(1).max(6),
    /** Every instance when absent. */
    instances: z.array(z.string().min(1).max(64)).max(16).optional(),
    percentage: z.number().int().min(1).max(100).optional(),
  })
  .strict();
const step = z
  .object({
    activate: activate.optional(),
    wait: z.object({ for: periodMs }).strict().optional(),
    analysis: z.object({ template: name, for: periodMs.optional(), interval: periodMs.optional() }).strict().optional(),
    pause: z.object({ for: periodMs.optional() }).strict().optional(),
    approve: z
      .object({ role: z.literal('operator').default('operator'), note: z.string().min(1).max(500) })
      .strict()
      .optional(),
    confirm: z.object({ url: httpUrl, for: periodMs.optional() }).strict().optional(),
  })
  .strict()
  .refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1, {
    message: 'each step is exactly one of activate, wait, analysis, pause, approve, confirm',
  });

const notification = z
  .object({
    url: httpUrl,
    /** Name of the environment variable (on the nodes) holding the HMAC key: the key itself never sits in a file. */
    secret_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
      .optional(),
    format: z.enum(['json', 'slack']).default('json'),
  })
  .strict();

const planSchema = z
  .object({
    name,
    description: z.string().max(1_000).optional(),
    /** Templates evaluated on every tick of the whole run (and so while waiting): the success criteria, triggers. */
    analysis: z
      .object({ templates: z.array(name).min(1).max(10) })
      .strict()
      .optional(),
    notifications: z.array(notification).max(5).default([]),
    steps: z.array(step).min(1).max(100),
  })
  .strict();

type RawStep = z.output<typeof step>;

/** One step of a plan, closed union (STYLE §1). Durations in ms as configured (not yet compressed). */
export type PlanStep =
  | { kind: 'activate'; layers: LayerId[]; instances: string[] | undefined; percentage: number }
  | { kind: 'wait'; forMs: number }
  | { kind: 'analysis'; template: string; forMs: number | undefined; intervalMs: number | undefined }
  | { kind: 'pause'; forMs: number | undefined }
  | { kind: 'approve'; note: string }
  | { kind: 'confirm'; url: string; forMs: number | undefined };

export type StepKind = PlanStep['kind'];

export interface Notification {
  url: string;
  secretEnv?: string;
  format: 'json' | 'slack';
}

/** A plan with the templates it names resolved: what is stored, so a run never depends on files on the nodes. */
export interface Plan {
  name: string;
  description?: string;
  steps: PlanStep[];
  background: string[];
  templates: Record<string, AnalysisTemplate>;
  notifications: Notification[];
}

export interface SourceFile {
  file: string;
  text: string;
}

export function parseTemplate(source: SourceFile): AnalysisTemplate {
  return parseLocatedYaml(source.file, source.text, templateSchema);
}

/** Template names a plan file refers to (for the CLI to find their files before sending). */
export function templatesNamed(plan: SourceFile): string[] {
  const raw = parseLocatedYaml(plan.file, plan.text, planSchema);
  return [
    ...new Set([
      ...(raw.analysis?.templates ?? []),
      ...raw.steps.flatMap((s) => (s.analysis ? [s.analysis.template] : [])),
    ]),
  ];
}

/**
 * A plan and its templates, validated together: every template it names must be given, instances must be members.
 * Throws CONFIG_INVALID listing every problem with its file:line:col.
 */
export function parsePlan(plan: SourceFile, templates: readonly SourceFile[], members: readonly string[]): Plan {
  const raw = parseLocatedYaml(plan.file, plan.text, planSchema);
  const parsed = new Map<string, { t: AnalysisTemplate; file: string }>();
  for (const source of templates) {
    const t = parseTemplate(source);
    if (parsed.has(t.name))
      throw new ConfigError([{ where: source.file, field: 'name', message: `template "${t.name}" is given twice` }]);
    parsed.set(t.name, { t, file: source.file });
  }
  const issues: { where: string; field: string; message: string }[] = [];
  const need = (template: string, field: string) => {
    if (!parsed.has(template))
      issues.push({
        where: plan.file,
        field,
        message: `no analysis template "${template}" (given: ${[...parsed.keys()].join(', ') || 'none'}; looked for config/analysis/${template}.yaml)`,
      });
  };
  raw.analysis?.templates.forEach((t, i) => need(t, `analysis.templates.${i}`));
  const steps = raw.steps.map((s, i) => toStep(s, i, members, issues, plan.file, need));
  if (issues.length > 0) throw new ConfigError(issues);
  const used = new Set([
    ...(raw.analysis?.templates ?? []),
    ...steps.flatMap((s) => (s.kind === 'analysis' ? [s.template] : [])),
  ]);
  return {
    name: raw.name,
    ...(raw.description ? { description: raw.description } : {}),
    steps,
    background: raw.analysis?.templates ?? [],
    templates: Object.fromEntries([...parsed].filter(([n]) => used.has(n)).map(([n, { t }]) => [n, t])),
    notifications: raw.notifications.map((n) => ({
      url: n.url,
      format: n.format,
      ...(n.secret_env ? { secretEnv: n.secret_env } : {}),
    })),
  };
}

function toStep(
  s: RawStep,
  index: number,
  members: readonly string[],
  issues: { where: string; field: string; message: string }[],
  file: string,
  need: (template: string, field: string) => void,
): PlanStep {
  if (s.activate) {
    const unknown = (s.activate.instances ?? []).filter((i) => !members.includes(i));
    if (unknown.length > 0)
      issues.push({
        where: file,
        field: `steps.${index}.activate.instances`,
        message: `unknown instance ${unknown.map((u) => `"${u}"`).join(', ')} (instances: ${members.join(', ')})`,
      });
    return {
      kind: 'activate',
      layers: s.activate.layers,
      instances: s.activate.instances,
      percentage: s.activate.percentage ?? 100,
    };
  }
  if (s.wait) return { kind: 'wait', forMs: s.wait.for };
  if (s.analysis) {
    need(s.analysis.template, `steps.${index}.analysis.template`);
    return { kind: 'analysis', template: s.analysis.template, forMs: s.analysis.for, intervalMs: s.analysis.interval };
  }
  if (s.pause) return { kind: 'pause', forMs: s.pause.for };
  if (s.approve) return { kind: 'approve', note: s.approve.note };
  if (s.confirm) return { kind: 'confirm', url: s.confirm.url, forMs: s.confirm.for };
  throw new TriadError('INTERNAL', 'a step without a kind passed validation');
}

/** One line per step, as `rollout create` and `status` print it. */
export function describeStep(s: PlanStep, fmt: (ms: number) => string): string {
  switch (s.kind) {
    case 'activate':
      return `activate ${s.layers.join('+')} on ${s.instances?.join(',') ?? 'every instance'}${s.percentage === 100 ? '' : ` at ${s.percentage}%`}`;
    case 'wait':
      return `wait ${fmt(s.forMs)}`;
    case 'analysis':
      return `analysis ${s.template}${s.forMs !== undefined ? ` for ${fmt(s.forMs)}` : ''}`;
    case 'pause':
      return s.forMs !== undefined ? `pause ${fmt(s.forMs)}` : 'pause until promoted';
    case 'approve':
      return `approval: ${s.note}`;
    case 'confirm':
      return `confirm via ${s.url}`;
  }
}
