import type { LayerId } from '../config/index.js';
import type { Clock } from '../shared/index.js';
import type { ErrorType } from './operation.js';
import type { Fault } from './faults.js';

export interface FrameworkContext {
  instance: string;
  /** Sticky identity of this operation: the percentage rollout decides by it, and it seeds the synthetic figures. */
  operationKey: string;
  clock: Clock;
  /** Injected faults for this framework's layer on this instance (none in production use). */
  fault: Fault;
}

export interface FrameworkResult {
  durationMs: number;
  burdenSavedHours: number;
  success: boolean;
  errorType?: ErrorType;
  details?: Record<string, unknown>;
}

/**
 * A framework the runtime can run (DESIGN §1 "framework runtime"): one id, one layer, a run that reports what it
 * achieved. Registered in framework_registry at start; runs on the layer's schedule while the layer is active on the
 * node and the framework is not disabled.
 */
export interface FrameworkPlugin {
  id: string;
  layer: LayerId;
  description: string;
  /** True for the built-in demo pack: shown as synthetic in the registry, logs and metrics docs. */
  synthetic: boolean;
  run(ctx: FrameworkContext): Promise<FrameworkResult>;
}
