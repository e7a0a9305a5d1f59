import type { Registry } from 'prom-client';
import { createConsensusMetrics, type ConsensusMetrics } from './consensus-metrics.js';
import { createLayerMetrics, type LayerMetrics } from './layer-metrics.js';
import { createNodeMetrics, type NodeMetrics } from './node-metrics.js';
import { createRuntimeMetrics, type RuntimeMetrics } from './runtime-metrics.js';

/** Every metric a node exports (docs/metrics.md), registered on one injected registry. */
export interface TriadMetrics {
  registry: Registry;
  node: NodeMetrics;
  consensus: ConsensusMetrics;
  layers: LayerMetrics;
  runtime: RuntimeMetrics;
}

export function createMetrics(registry: Registry): TriadMetrics {
  return {
    registry,
    node: createNodeMetrics(registry),
    consensus: createConsensusMetrics(registry),
    layers: createLayerMetrics(registry),
    runtime: createRuntimeMetrics(registry),
  };
}
