import type { Registry } from 'prom-client';
import type { LayersConfig } from '../config/index.js';
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

/**
 * What the closed label sets are made of, known when the node starts: every counter series they span is exported at
 * 0 from the first scrape, so rate(), alerts and panels have a series before the first operation, error or rollback.
 */
export interface MetricsScope {
  /** Layers, frameworks and rollback triggers of layers.yaml. */
  layers: LayersConfig;
  /** The cluster's consensus topology label (K3, C5, …: consensus' topologyLabel). */
  topology: string;
}

export function createMetrics(registry: Registry, scope: MetricsScope): TriadMetrics {
  const frameworks = scope.layers.layers.flatMap((l) => l.frameworks);
  return {
    registry,
    node: createNodeMetrics(registry),
    consensus: createConsensusMetrics(registry, scope.topology),
    layers: createLayerMetrics(registry, scope.layers),
    runtime: createRuntimeMetrics(registry, frameworks),
  };
}
