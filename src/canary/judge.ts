import { TriadError } from '../shared/index.js';
import { hodgesLehmann, mannWhitney, median, proportionDifference } from './statistics.js';

/** What one cohort did over the judged window: one entry per operation in each list. */
export interface CohortSample {
  durationsMs: readonly number[];
  /** Burden saved by each operation, hours (0 for a failed one). */
  burdenHours: readonly number[];
  operations: number;
  errors: number;
}

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';
export type CanaryMetric = 'latency' | 'error_rate' | 'amplification';

export interface JudgeOptions {
  /** Confidence of every interval; 1 − confidence is the two-sided false-positive rate of each test. */
  confidence: number;
  /** Fewer operations than this in either cohort: INCONCLUSIVE, whatever the figures say. */
  minSamples: number;
  /** The canary fails when its latency is surely more than this multiple of the control's. */
  latencyMaxRatio: number;
  /** The canary fails when its error rate is surely more than this many (absolute) above the control's. */
  errorRateMaxIncrease: number;
  /** The canary fails when its amplification is surely below this fraction of the control's. */
  amplificationMinRatio: number;
}

export const defaultJudgeOptions: JudgeOptions = {
  confidence: 0.95,
  minSamples: 30,
  latencyMaxRatio: 1.2,
  errorRateMaxIncrease: 0.02,
  amplificationMinRatio: 0.8,
};

export interface MetricJudgement {
  metric: CanaryMetric;
  verdict: Verdict;
  /** Canary relative to control: a ratio for latency and amplification, a difference for the error rate. */
  effect: number;
  interval: [number, number];
  threshold: number;
  /** Mann-Whitney two-sided p-value (latency, amplification); null for the error rate. */
  pValue: number | null;
  reason: string;
}

export interface CanaryJudgement {
  verdict: Verdict;
  /** Of the deciding check: the first that FAILs, else the first INCONCLUSIVE, else latency. */
  metric: CanaryMetric;
  effect: number;
  interval: [number, number];
  samples: { canary: number; control: number };
  confidence: number;
  checks: MetricJudgement[];
}

/**
 * Judges a canary cohort against its control, Kayenta-style, but with three outcomes: FAIL only when the whole
 * confidence interval of the effect lies past the threshold, PASS only when it lies wholly on the safe side, and
 * INCONCLUSIVE when it straddles the threshold or a cohort is smaller than `minSamples`. A small sample therefore
 * widens the interval into INCONCLUSIVE instead of passing; identical cohorts FAIL with probability at most
 * (1 − confidence)/2 per check, and in practice far less since the threshold sits beyond "no change".
 */
export function judgeCanary(
  canary: CohortSample,
  control: CohortSample,
  options: Partial<JudgeOptions> = {},
): CanaryJudgement {
  const o = { ...defaultJudgeOptions, ...options };
  validate(o);
  const samples = { canary: canary.operations, control: control.operations };
  const checks: MetricJudgement[] =
    Math.min(canary.operations, control.operations) < o.minSamples ||
    Math.min(canary.durationsMs.length, control.durationsMs.length) < o.minSamples
      ? (['latency', 'error_rate', 'amplification'] as const).map((metric) => tooFew(metric, samples, o))
      : [latencyCheck(canary, control, o), errorRateCheck(canary, control, o), amplificationCheck(canary, control, o)];
  const deciding =
    checks.find((c) => c.verdict === 'FAIL') ?? checks.find((c) => c.verdict === 'INCONCLUSIVE') ?? checks[0]!;
  return {
    verdict: deciding.verdict,
    metric: deciding.metric,
    effect: deciding.effect,
    interval: deciding.interval,
    samples,
    confidence: o.confidence,
    checks,
  };
}

function validate(o: JudgeOptions): void {
  const bad = (field: string, value: number, allowed: string): never => {
    throw new TriadError('INPUT_INVALID', `canary judge: ${field}=${value} is out of range (allowed: ${allowed})`);
  };
  if (!(o.confidence > 0.5 && o.confidence < 1)) bad('confidence', o.confidence, '0.5 < confidence < 1');
  if (!(Number.isInteger(o.minSamples) && o.minSamples >= 3)) bad('minSamples', o.minSamples, 'an integer ≥ 3');
  if (!(o.latencyMaxRatio > 1)) bad('latencyMaxRatio', o.latencyMaxRatio, '> 1');
  if (!(o.errorRateMaxIncrease > 0 && o.errorRateMaxIncrease < 1))
    bad('errorRateMaxIncrease', o.errorRateMaxIncrease, '0 < x < 1');
  if (!(o.amplificationMinRatio > 0 && o.amplificationMinRatio < 1))
    bad('amplificationMinRatio', o.amplificationMinRatio, '0 < x < 1');
}

function tooFew(metric: CanaryMetric, s: { canary: number; control: number }, o: JudgeOptions): MetricJudgement {
  return {
    metric,
    verdict: 'INCONCLUSIVE',
    effect: Number.NaN,
    interval: [Number.NaN, Number.NaN],
    threshold: thresholdOf(metric, o),
    pValue: null,
    reason: `too few samples: canary ${s.canary}, control ${s.control} (needs ≥ ${o.minSamples} each)`,
  };
}

function thresholdOf(metric: CanaryMetric, o: JudgeOptions): number {
  return metric === 'latency'
    ? o.latencyMaxRatio
    : metric === 'error_rate'
      ? o.errorRateMaxIncrease
      : o.amplificationMinRatio;
}

// Latency is compared on a log scale, so the shift is a ratio (2× slower reads 2.0 whatever the typical latency) and
// the long right tail of latencies does not dominate; 1 µs floors a 0 ms reading so the log stays finite.
function latencyCheck(canary: CohortSample, control: CohortSample, o: JudgeOptions): MetricJudgement {
  const log = (v: number): number => Math.log(Math.max(v, 1e-3));
  const x = canary.durationsMs.map(log);
  const y = control.durationsMs.map(log);
  const shift = hodgesLehmann(x, y, o.confidence);
  const interval: [number, number] = [Math.exp(shift.lower), Math.exp(shift.upper)];
  const verdict: Verdict =
    interval[0] > o.latencyMaxRatio ? 'FAIL' : interval[1] < o.latencyMaxRatio ? 'PASS' : 'INCONCLUSIVE';
  return {
    metric: 'latency',
    verdict,
    effect: Math.exp(shift.estimate),
    interval,
    threshold: o.latencyMaxRatio,
    pValue: mannWhitney(x, y).pValue,
    reason: `canary latency ${fmt(Math.exp(shift.estimate))}× control (${pct(o.confidence)} interval ${fmt(interval[0])}–${fmt(interval[1])}; fails above ${o.latencyMaxRatio}×)`,
  };
}

function errorRateCheck(canary: CohortSample, control: CohortSample, o: JudgeOptions): MetricJudgement {
  const d = proportionDifference(canary.errors, canary.operations, control.errors, control.operations, o.confidence);
  const verdict: Verdict =
    d.lower > o.errorRateMaxIncrease ? 'FAIL' : d.upper <= o.errorRateMaxIncrease ? 'PASS' : 'INCONCLUSIVE';
  return {
    metric: 'error_rate',
    verdict,
    effect: d.estimate,
    interval: [d.lower, d.upper],
    threshold: o.errorRateMaxIncrease,
    pValue: null,
    reason: `canary error rate ${pct(canary.errors / canary.operations)} vs control ${pct(control.errors / control.operations)} (difference interval ${pct(d.lower)}–${pct(d.upper)}; fails above +${pct(o.errorRateMaxIncrease)})`,
  };
}

// Amplification of Rn is its burden rate over R(n−1)'s; both cohorts share the lower layer, so the ratio of their
// amplifications is the ratio of their burden saved per operation, which is what is compared here.
function amplificationCheck(canary: CohortSample, control: CohortSample, o: JudgeOptions): MetricJudgement {
  const base = median(control.burdenHours);
  if (!(base > 0) || canary.burdenHours.length === 0) {
    return {
      metric: 'amplification',
      verdict: 'INCONCLUSIVE',
      effect: Number.NaN,
      interval: [Number.NaN, Number.NaN],
      threshold: o.amplificationMinRatio,
      pValue: null,
      reason: 'the control cohort saved no burden: no ratio to compare against',
    };
  }
  const shift = hodgesLehmann(canary.burdenHours, control.burdenHours, o.confidence);
  const effect = 1 + shift.estimate / base;
  const interval: [number, number] = [1 + shift.lower / base, 1 + shift.upper / base];
  const verdict: Verdict =
    interval[1] < o.amplificationMinRatio ? 'FAIL' : interval[0] >= o.amplificationMinRatio ? 'PASS' : 'INCONCLUSIVE';
  return {
    metric: 'amplification',
    verdict,
    effect,
    interval,
    threshold: o.amplificationMinRatio,
    pValue: mannWhitney(canary.burdenHours, control.burdenHours).pValue,
    reason: `canary burden per operation ${fmt(effect)}× control (interval ${fmt(interval[0])}–${fmt(interval[1])}; fails below ${o.amplificationMinRatio}×)`,
  };
}

const fmt = (v: number): string => v.toFixed(2);
const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;
