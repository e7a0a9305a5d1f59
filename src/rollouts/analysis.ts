import type { LayerId } from '../config/index.js';
import type { AgreedFigures } from '../layer-manager/index.js';
import type { MeasurementPhase } from '../storage/index.js';
import { parseCondition, type Condition } from './condition.js';
import type { AnalysisMetric } from './plan.js';

/** One measurement of one check (Argo's semantics: missing or stale data is INCONCLUSIVE, a provider error ERROR). */
export interface Measurement {
  phase: MeasurementPhase;
  /** The value judged: the worst one when the result has several (an instance each, a PromQL vector). */
  value?: number;
  detail: string;
}

/** What the triad provider reads: the agreed figures of the last epoch and what is active where. */
export interface TriadFigures {
  agreed: AgreedFigures | undefined;
  now: number;
  maxSampleAgeMs: number;
  minSamples: number;
  members: readonly string[];
  active: (instance: string, layer: LayerId) => boolean;
}

/** The provider's answer, or 'skip' when there is nothing to judge yet (a check of a layer not active anywhere). */
export function measureTriad(metric: AnalysisMetric, figures: TriadFigures): Measurement | 'skip' {
  const provider = metric.provider.triad;
  if (!provider) throw new Error('not a triad check');
  const condition = parseCondition(metric.successCondition);
  const { agreed } = figures;
  const layers: LayerId[] = provider.layer ? [provider.layer] : (['R1', 'R2', 'R3', 'R4', 'R5', 'R6'] as LayerId[]);
  const pairs = figures.members.flatMap((instance) =>
    layers.filter((l) => figures.active(instance, l)).map((layer) => ({ instance, layer })),
  );
  if (provider.figure !== 'consensus_error' && pairs.length === 0) return 'skip';
  if (!agreed) return { phase: 'INCONCLUSIVE', detail: 'no consensus epoch yet: nothing agreed to judge' };
  const ageMs = figures.now - agreed.at;
  if (ageMs > figures.maxSampleAgeMs)
    return {
      phase: 'INCONCLUSIVE',
      detail: `agreed figures are ${Math.round(ageMs / 1000)} s old (stale after ${Math.round(figures.maxSampleAgeMs / 1000)} s)`,
    };
  if (provider.figure === 'consensus_error') return judge(condition, [{ value: agreed.error, where: 'cluster' }]);
  const values: { value: number; where: string }[] = [];
  for (const { instance, layer } of pairs) {
    const f = agreed.instances[instance]?.[layer];
    const where = `${layer} on ${instance}`;
    if (!f) return { phase: 'INCONCLUSIVE', detail: `no figures for ${where} in the last epoch` };
    if (provider.figure === 'samples') {
      values.push({ value: f.samples, where });
      continue;
    }
    if (!f.settled) return { phase: 'INCONCLUSIVE', detail: `${where}: the window spans a change; not settled yet` };
    if (f.samples < figures.minSamples)
      return { phase: 'INCONCLUSIVE', detail: `${where}: ${f.samples} samples (needs ${figures.minSamples})` };
    const value = provider.figure === 'amplification' ? f.amplification : f.errorRate;
    if (value === undefined) return { phase: 'INCONCLUSIVE', detail: `${where}: no ${provider.figure} figure` };
    values.push({ value, where });
  }
  return judge(condition, values);
}

/** Every value must hold; the first that does not is what the run reports. */
function judge(condition: Condition, values: { value: number; where: string }[]): Measurement {
  const failing = values.find((v) => !condition.test(v.value));
  if (failing)
    return {
      phase: 'FAIL',
      value: failing.value,
      detail: `${failing.where}: ${round(failing.value)} (needs ${condition.threshold})`,
    };
  const shown = values
    .slice(0, 6)
    .map((v) => `${v.where} ${round(v.value)}`)
    .join(', ');
  return { phase: 'PASS', value: values[0]?.value ?? 0, detail: `${shown} (${condition.threshold})` };
}

/**
 * A PromQL instant query against a real Prometheus (`/api/v1/query`). The condition holds on every element of the
 * result vector; an empty vector is INCONCLUSIVE (nothing to judge is never a pass), a failed request or a Prometheus
 * error ERROR.
 */
export async function measurePrometheus(
  metric: AnalysisMetric,
  options: { timeoutMs: number; fetch?: typeof fetch },
): Promise<Measurement> {
  const provider = metric.provider.prometheus;
  if (!provider) throw new Error('not a prometheus check');
  const condition = parseCondition(metric.successCondition);
  const url = `${provider.address.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(provider.query)}`;
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
  try {
    const res = await (options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(options.timeoutMs) });
    body = (await res.json().catch(() => ({}))) as typeof body;
    if (!res.ok || body.status !== 'success')
      return {
        phase: 'ERROR',
        detail: `prometheus answered ${res.status}: ${body.error ?? 'no result'}`.slice(0, 300),
      };
  } catch (err) {
    return { phase: 'ERROR', detail: `prometheus at ${provider.address}: ${(err as Error).message}`.slice(0, 300) };
  }
  const data = body.data;
  let samples: { value: number; where: string }[];
  if (data?.resultType === 'vector' && Array.isArray(data.result)) {
    samples = (data.result as { metric?: Record<string, string>; value?: [number, string] }[]).map((s) => ({
      value: Number(s.value?.[1]),
      where: labelsOf(s.metric ?? {}),
    }));
  } else if (data?.resultType === 'scalar' && Array.isArray(data.result)) {
    samples = [{ value: Number((data.result as [number, string])[1]), where: 'scalar' }];
  } else {
    return {
      phase: 'ERROR',
      detail: `prometheus returned a ${data?.resultType ?? 'missing'} result; expected a vector`,
    };
  }
  if (samples.length === 0)
    return { phase: 'INCONCLUSIVE', detail: `empty result for ${provider.query}`.slice(0, 300) };
  const missing = samples.find((s) => !Number.isFinite(s.value));
  if (missing) return { phase: 'INCONCLUSIVE', detail: `${missing.where}: not a number (NaN)` };
  return judge(condition, samples);
}

function labelsOf(metric: Record<string, string>): string {
  const parts = Object.entries(metric)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}="${v}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : (metric.__name__ ?? 'result');
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

/** Counts over one check's measurements in a step, and what they add up to under Argo's limits. */
export interface Tally {
  measurements: number;
  passed: number;
  failed: number;
  inconclusive: number;
  errors: number;
  consecutiveErrors: number;
  last?: { phase: MeasurementPhase; value?: number; detail: string };
}

export type Verdict = 'running' | 'failed' | 'inconclusive' | 'error';

export function tally(phases: readonly { phase: MeasurementPhase; value?: number; detail: string }[]): Tally {
  const t: Tally = { measurements: 0, passed: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0 };
  for (const m of phases) {
    t.measurements++;
    if (m.phase === 'PASS') t.passed++;
    if (m.phase === 'FAIL') t.failed++;
    if (m.phase === 'INCONCLUSIVE') t.inconclusive++;
    if (m.phase === 'ERROR') t.errors++;
    t.consecutiveErrors = m.phase === 'ERROR' ? t.consecutiveErrors + 1 : 0;
    t.last = m;
  }
  return t;
}

/**
 * Argo Rollouts' limits: more failures than failureLimit fails the analysis; more consecutive errors than
 * consecutiveErrorLimit is an error (the run aborts, as for a failure: a check that cannot be read is no pass);
 * more inconclusive results than inconclusiveLimit stops for a human. A dryRun check is measured and shown, never acted on.
 */
export function verdict(metric: AnalysisMetric, t: Tally): Verdict {
  if (metric.dryRun) return 'running';
  if (t.failed > metric.failureLimit) return 'failed';
  if (t.consecutiveErrors > metric.consecutiveErrorLimit) return 'error';
  if (t.inconclusive > metric.inconclusiveLimit) return 'inconclusive';
  return 'running';
}
