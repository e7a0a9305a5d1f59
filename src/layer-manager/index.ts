export { DesiredStateApplier } from './applier.js';
export type { ApplierDeps } from './applier.js';
export { BandTracker } from './bands.js';
export {
  activate,
  activeLayers,
  appliedLayersOf,
  deactivate,
  dependantsOf,
  describeLayers,
  diffStates,
  emergencyDisable,
  emptyState,
  isActive,
  normaliseState,
  setFrameworkEnabled,
  settingOf,
} from './desired-state.js';
export type { DesiredState, LayerSetting, Transition, TransitionAction } from './desired-state.js';
export { evaluateGates } from './gates.js';
export type { AgreedFigures, CheckStatus, GateCheck, GateInputs } from './gates.js';
export { appliedLayerNames, healthLayers, layerHealth } from './health.js';
export type {
  HealthInputs,
  HealthReport,
  HealthCheck,
  HealthStatus,
  InstanceLayerHealth,
  InstanceView,
  LayerHealth,
} from './health.js';
export { createLayers } from './layers.js';
export type { HistoryEntry, Layers, LayersDeps } from './layers.js';
export { LeaderElection } from './leader.js';
export type { LeaderElectionDeps } from './leader.js';
export {
  checkMutation,
  checkMutationOptions,
  defaultApplyTimeoutMs,
  describeMutation,
  parseMutation,
} from './mutation-input.js';
export type { CheckedOptions, Mutation, MutationInput, MutationOptions } from './mutation-input.js';
export type {
  DetectionBudget,
  InstanceApply,
  MutationPlan,
  MutationProgress,
  MutationResult,
} from './mutation-result.js';
export { desiredStateChannel, GateRefusedError, LayerManager } from './service.js';
export type { LayerManagerDeps } from './service.js';
export { createDesiredStateStore } from './state-store.js';
export type { DesiredStateStore, VersionRow } from './state-store.js';
export { createPerformanceReader } from './performance.js';
export type { PerformanceReader } from './performance.js';
export { detectionBudgets, TriggerEvaluator } from './triggers.js';
export type {
  InstanceLayerFigures,
  LayerPerformance,
  PerformanceFigures,
  TriggerFiring,
  TriggerInputs,
} from './triggers.js';
