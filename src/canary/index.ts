export { defaultJudgeOptions, judgeCanary } from './judge.js';
export type { CanaryJudgement, CanaryMetric, CohortSample, JudgeOptions, MetricJudgement, Verdict } from './judge.js';
export { hodgesLehmann, mannWhitney, proportionDifference } from './statistics.js';
export type { MannWhitney, ProportionDifference, ShiftEstimate } from './statistics.js';
export { createCanaryJudge, maxWindowMs } from './cohorts.js';
export type { CanaryJudge, CanaryQuery, CanaryReport } from './cohorts.js';
