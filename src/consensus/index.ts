export {
  analyzeGraph,
  checkInitialValues,
  DEFAULT_EPSILON,
  describeComponents,
  iterate,
  iterationCap,
  MAX_ITERATION_WORK,
  MAX_ITERATIONS,
} from './analyze.js';
export type { AnalyzeOptions, ConsensusAnalysis } from './analyze.js';
export { MAX_GRAPH_FILE_BYTES, parseGraphFile } from './graph-file.js';
export type { GraphFile } from './graph-file.js';
export {
  consensusError,
  consensusErrorVec,
  consensusStep,
  convergenceFactor,
  eigenvaluesOf,
  laplacianOf,
  localUpdate,
  meanOf,
  mixingTime,
  optimalStep,
  predictedRounds,
  spectrum,
  stateAt,
} from './laplacian.js';
export type { SquareMatrix } from './laplacian.js';
export {
  componentsOf,
  createGraph,
  defaultNodeNames,
  graphFromCluster,
  graphFromTopology,
  graphIssues,
  MAX_NODES,
  parseTopologySpec,
  standardShapeOf,
} from './topology.js';
export type { Edge, Graph, GraphIssue, StandardShape } from './topology.js';
export { ConsensusCoordinator } from './coordinator.js';
export type { CoordinatorDeps, EpochGraph, RunEpochOptions } from './coordinator.js';
export { createEpochPlanner, topologyLabel } from './epoch-planner.js';
export {
  agreedLayerView,
  emptyMeasurement,
  instanceLayerFigures,
  measurementFields,
  measurementKeys,
  measurementVector,
} from './measurement.js';
export type { AgreedLayer, InstanceFigures, LayerMeasurement, MeasurementField } from './measurement.js';
export type {
  ConsensusMessage,
  Edge as EpochEdge,
  EpochOutcome,
  EpochPlan,
  EpochReport,
  MemberResult,
  RoundValue,
} from './messages.js';
export { createConsensus } from './node-consensus.js';
export type { Consensus, ConsensusDeps } from './node-consensus.js';
export { measureEpoch } from './outcome.js';
export type { MeasuredEpoch } from './outcome.js';
export { EpochParticipant } from './participant.js';
export type { ParticipantDeps, PeerTransport } from './participant.js';
export { Mailbox } from './mailbox.js';
export type { MailboxLimits } from './mailbox.js';
export { checkOutcome, checkPlan, checkReport, checkRound, defaultLimits, MAX_ROUND_TIMEOUT_MS } from './checks.js';
export type { ConsensusLimits, ConsensusRejection, KnownEpoch, Refusal } from './checks.js';
export { suspectsOf } from './outcome.js';
export {
  analyzeResilience,
  MAX_ROBUSTNESS_NODES,
  resilientStep,
  robustnessWitness,
  trimmedUpdate,
} from './resilience.js';
export type { ResilienceAnalysis, RobustnessWitness } from './resilience.js';
