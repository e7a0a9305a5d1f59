import { Counter, Gauge, type Registry } from 'prom-client';
import type { LayersConfig } from '../config/index.js';

export interface LayerMetrics {
  layerEnabled: Gauge<'layer'>;
  rolloutPercentage: Gauge<'layer'>;
  desiredStateVersion: Gauge;
  leader: Gauge;
  rollbacks: Counter<'layer' | 'reason'>;
  /** Versions this node refused to apply because their audit row does not verify (docs/security.md, "Audit"). */
  versionsRefused: Counter;
}

export function createLayerMetrics(registry: Registry, config: LayersConfig): LayerMetrics {
  const registers = [registry];
  const metrics: LayerMetrics = {
    layerEnabled: new Gauge({
      name: 'layer_enabled',
      help: '1 while the layer is enabled on this node (applied desired state), else 0.',
      labelNames: ['layer'],
      registers,
    }),
    rolloutPercentage: new Gauge({
      name: 'layer_rollout_percentage',
      help: 'Share of operation keys the layer runs for on this node, 0–100 (0 when disabled).',
      labelNames: ['layer'],
      registers,
    }),
    desiredStateVersion: new Gauge({
      name: 'desired_state_version',
      help: 'Desired-state version this node has applied.',
      registers,
    }),
    leader: new Gauge({ name: 'triad_leader', help: '1 on the node that holds the leader lock, else 0.', registers }),
    rollbacks: new Counter({
      name: 'triad_rollbacks_total',
      help: 'Layer deactivations by rollback on this node: reason is the trigger id (automatic) or "manual".',
      labelNames: ['layer', 'reason'],
      registers,
    }),
    versionsRefused: new Counter({
      name: 'triad_desired_state_refused_total',
      help: 'Desired-state versions this node refused to apply: their audit row is missing or does not verify.',
      registers,
    }),
  };
  // Known series start at 0 (Prometheus practice): a panel or increase() over "no rollbacks yet" reads 0, not nothing.
  // The reasons a layer can be rolled back for: by hand, or by a trigger of layers.yaml that covers it.
  for (const { id: layer } of config.layers) {
    metrics.rollbacks.inc({ layer, reason: 'manual' }, 0);
    for (const trigger of config.rollbackTriggers) {
      if (trigger.layer === layer || trigger.layer === '*') metrics.rollbacks.inc({ layer, reason: trigger.id }, 0);
    }
  }
  return metrics;
}
