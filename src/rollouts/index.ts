export { measurePrometheus, measureTriad, tally, verdict } from './analysis.js';
export type { Measurement, Tally, TriadFigures, Verdict } from './analysis.js';
export { bucketingVersion, bucketOf, inRollout, murmurHash3x86_32 } from './bucketing.js';
export { parseCondition } from './condition.js';
export type { Condition } from './condition.js';
export { abortLabel, createExecutor, rolloutActor, runWhileLeader, stepLabel } from './executor.js';
export type { Executor, ExecutorDeps } from './executor.js';
export { describeStep, parsePlan, parseTemplate, templatesNamed } from './plan.js';
export type { AnalysisMetric, AnalysisTemplate, Notification, Plan, PlanStep, SourceFile, StepKind } from './plan.js';
export { createRollouts } from './service.js';
export type { Caller, PlanStepView, PlanView, Rollouts, RolloutsDeps, RunView } from './service.js';
export {
  createWebhookSender,
  signatureHeader,
  signBody,
  timestampHeader,
  verifyDelivery,
  webhookBody,
} from './webhooks.js';
export type { WebhookDeps, WebhookSender } from './webhooks.js';
export { backtest, backtestExit } from './backtest.js';
export type {
  BacktestInput,
  BacktestMeasurement,
  BacktestOutcome,
  BacktestResult,
  BacktestStep,
  HistoryEpoch,
  OperationBucket,
} from './backtest.js';
