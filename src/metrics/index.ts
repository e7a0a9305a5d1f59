export { createConsensusMetrics } from './consensus-metrics.js';
export type { ConsensusMetrics, EpochFigures } from './consensus-metrics.js';
export { createLayerMetrics } from './layer-metrics.js';
export type { LayerMetrics } from './layer-metrics.js';
export { createMetrics } from './metrics.js';
export type { TriadMetrics } from './metrics.js';
export { createNodeMetrics } from './node-metrics.js';
export type { NodeMetrics } from './node-metrics.js';
