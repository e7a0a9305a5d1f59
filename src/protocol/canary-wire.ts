import type { CanaryMetric, CanaryReport, Verdict } from '../canary/index.js';

export interface JudgeCanaryRequest {
  layer: string;
  instance: string;
  control: string[];
  window_ms: number;
}

export interface WireCanaryCheck {
  metric: CanaryMetric;
  verdict: Verdict;
  effect: number;
  lower: number;
  upper: number;
  threshold: number;
  p_value: number;
  reason: string;
}

export interface CanaryJudgementReply {
  verdict: Verdict;
  metric: CanaryMetric;
  effect: number;
  lower: number;
  upper: number;
  canary_samples: number;
  control_samples: number;
  confidence: number;
  checks: WireCanaryCheck[];
  layer: string;
  instance: string;
  control: string[];
  window_ms: number;
  from_ms: number;
  to_ms: number;
}

export function toWireCanary(r: CanaryReport): CanaryJudgementReply {
  return {
    verdict: r.verdict,
    metric: r.metric,
    effect: r.effect,
    lower: r.interval[0],
    upper: r.interval[1],
    canary_samples: r.samples.canary,
    control_samples: r.samples.control,
    confidence: r.confidence,
    checks: r.checks.map((c) => ({
      metric: c.metric,
      verdict: c.verdict,
      effect: c.effect,
      lower: c.interval[0],
      upper: c.interval[1],
      threshold: c.threshold,
      p_value: c.pValue ?? Number.NaN,
      reason: c.reason,
    })),
    layer: r.layer,
    instance: r.instance,
    control: r.control,
    window_ms: r.windowMs,
    from_ms: r.fromMs,
    to_ms: r.toMs,
  };
}
