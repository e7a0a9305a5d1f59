import type { LayerId } from '../config/index.js';
import type { Transition } from './desired-state.js';
import type { GateCheck } from './gates.js';

/** Where one instance stands with a version: planned (expectedMs) or measured (applied, applyMs). */
export interface InstanceApply {
  instance: string;
  /** The version changes what this instance runs: the change waits for it. */
  targeted: boolean;
  reachable: boolean;
  applied: boolean;
  appliedVersion: number;
  applyMs: number;
  /** The dry run's estimate: about one round trip to the instance and back. */
  expectedMs: number;
  error?: string;
}

/** How long a failing layer would run before a trigger rolls it back: window + hold + evaluation interval. */
export interface DetectionBudget {
  layer: LayerId;
  triggerId: string;
  budgetMs: number;
  forMs: number;
}

/** What a change is (or would be): the version diff, every gate check, and where it goes. */
export interface MutationPlan {
  command: string;
  beforeVersion: number;
  afterVersion: number;
  transitions: Transition[];
  checks: GateCheck[];
  /** Gates failed and --force went past them. */
  override: boolean;
  /** The command that undoes the change; absent when nothing changed. */
  undoCommand?: string;
  dryRun: boolean;
  correlationId: string;
  label?: string;
  instances: InstanceApply[];
  detectionBudgets: DetectionBudget[];
}

export interface MutationResult {
  plan: MutationPlan;
  instances: InstanceApply[];
  /** Every targeted instance applied the version (or nothing needed applying). */
  complete: boolean;
  durationMs: number;
}

/** Told as a change progresses: once committed, then once per instance as it applies (or fails to). */
export interface MutationProgress {
  onCommitted?: (plan: MutationPlan) => void;
  onProgress?: (instance: InstanceApply) => void;
}
