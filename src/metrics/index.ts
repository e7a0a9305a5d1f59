export { createNodeMetrics } from './node-metrics.js';
export type { NodeMetrics } from './node-metrics.js';
