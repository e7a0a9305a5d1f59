/**
 * What a fault scenario records while it runs, and what it reads back from storage afterwards: the input of the
 * checker (checker.ts). Times are ms since the Unix epoch on this machine's clock, which every process here shares.
 */

/** ok: the caller got its answer. failed: a definite error (nothing happened). unknown: it may or may not have. */
export type Outcome = 'ok' | 'failed' | 'unknown';

export interface MutationCall {
  client: string;
  correlationId: string;
  kind: 'activate' | 'deactivate' | 'framework' | 'rollback';
  target: string;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** The version the node said it wrote (from the committed event or the result). */
  version?: number;
  /** The node answered "nothing to change": no version was written. */
  noop?: boolean;
  error?: string;
}

export interface IngestCall {
  client: string;
  operationIds: string[];
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** Ids the reply said are durable (ok outcome only). */
  accepted: string[];
  attempts: number;
  error?: string;
}

export interface StatePoll {
  node: string;
  atMs: number;
  /** The node answered GetState at all. */
  answered: boolean;
  /** Identifies one run of the process: a restarted node starts again from its stored version. */
  startedAtMs: number;
  appliedVersion: number;
  leader: boolean;
  ready: boolean;
  reasons: string[];
  consensusError: number;
  unreachable: string[];
}

export interface StoredVersion {
  version: number;
  correlationId: string;
}

export interface AuditTransition {
  correlationId: string;
  beforeVersion: number;
  afterVersion: number;
}

export interface StoredEpoch {
  epochId: string;
  initiator: string;
  measuredAtMs: number;
}

/** A node's "became leader" … "no longer leader" (or its death), from its log and the harness's kill record. */
export interface LeaderSpan {
  node: string;
  fromMs: number;
  toMs: number;
}

export interface ForcedSync {
  node: string;
  invokeMs: number;
  completeMs: number;
  epochId?: string;
}

export interface FaultWindow {
  fault: string;
  startMs: number;
  healMs: number;
  /** Nodes cut off from the rest (partitions, a paused node): they must show as divergence. */
  isolated: string[];
}

export interface TriggerFiring {
  triggerId: string;
  layer: string;
  instance?: string;
  firedAtMs: number;
}

export interface History {
  nodes: string[];
  mutations: MutationCall[];
  ingests: IngestCall[];
  polls: StatePoll[];
  versions: StoredVersion[];
  audit: AuditTransition[];
  epochs: StoredEpoch[];
  forcedSyncs: ForcedSync[];
  leaderSpans: LeaderSpan[];
  /** How many rows operation_history holds per operation id the clients sent. */
  storedOperations: Map<string, number>;
  faults: FaultWindow[];
  /** Spans a node was paused (SIGSTOP … SIGCONT): it holds leadership on paper but cannot act. */
  paused: LeaderSpan[];
  triggers: TriggerFiring[];
  /** Node processes that exited without the harness killing them. */
  crashes: { node: string; atMs: number; how: string }[];
  /** Trigger holds armed during the run (trigger id → when its condition started to hold). */
  /** The shortest hold of the rollback triggers in force (two firings closer than this are a repeat). */
  triggerHoldMs: number;
  epochIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** How long after the last heal every node must be on the latest version and ready. */
  convergeBoundMs: number;
}
