export { parseClusterConfig } from './cluster.js';
export { isLoopbackHost, servesHttps } from './cluster-rules.js';
export type { ClusterConfig, InstanceAddress, TopologyKind } from './cluster.js';
export { formatDurationMs, parseDurationMs } from './duration.js';
export { isLayerId, layerIds, parseLayersConfig, ratioNames } from './layers.js';
export type {
  AmplificationBand,
  FrameworkConfig,
  GateConfig,
  LayerConfig,
  LayerId,
  LayersConfig,
  RollbackTriggerConfig,
  StageConfig,
  TriggerMetric,
} from './layers.js';
export { loadConfig, readRuntimeEnv, resolveClusterFile, resolveTiming } from './load.js';
export type { LoadConfigOptions, RuntimeEnv, Timing, TriadConfig } from './load.js';
