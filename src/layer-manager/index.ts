export { DesiredStateApplier } from './applier.js';
export type { ApplierDeps } from './applier.js';
export { BandTracker } from './bands.js';
export {
  activate,
  activeLayers,
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
export type { HealthInputs, InstanceView } from './health.js';
export { LeaderElection } from './leader.js';
export type { LeaderElectionDeps } from './leader.js';
export { defaultApplyTimeoutMs, describeMutation, parseMutation } from './mutation-input.js';
export type { Mutation, MutationOptions } from './mutation-input.js';
export { desiredStateChannel, GateRefusedError, LayerManager, toWireCheck } from './service.js';
export type { LayerManagerDeps, MutationContext } from './service.js';
export { DesiredStateStore } from './store.js';
export type { VersionRow } from './store.js';
export { detectionBudgets, TriggerEvaluator } from './triggers.js';
export type { InstanceLayerFigures, TriggerFiring, TriggerInputs } from './triggers.js';
