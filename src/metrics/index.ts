export { createConsensusMetrics } from './consensus-metrics.js';
export type { ConsensusMetrics, EpochFigures } from './consensus-metrics.js';
export { createNodeMetrics } from './node-metrics.js';
export type { NodeMetrics } from './node-metrics.js';
