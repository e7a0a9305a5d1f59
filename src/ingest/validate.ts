import { randomUUID } from 'node:crypto';
import { formatDurationMs, isLayerId, layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import { errorTypes, type ErrorType, type OperationRecord } from '../runtime/index.js';
import { TriadError } from '../shared/index.js';

/** What an ingested operation is checked against: the configured frameworks and members, and the bounds below. */
export interface IngestRules {
  /** framework id → its layer, from config/layers.yaml. */
  frameworks: ReadonlyMap<string, LayerId>;
  /** Cluster instances an operation may name. */
  members: readonly string[];
  /**
   * The instance this node counts operations for (absent: any member, for tools that only store). An operation of
   * another instance is refused, not forwarded: it would count in this node's windows and skew its measurement, and
   * the sender knows which instance ran it, so it can send it there.
   */
  self?: string;
  limits: IngestLimits;
}

export interface IngestLimits {
  /** Items per call; more is a whole-batch INPUT_INVALID. */
  maxItems: number;
  maxBurdenHours: number;
  /** How far ahead of this node's clock started_at may be. */
  maxClockSkewMs: number;
  /** How old started_at may be. */
  maxAgeMs: number;
}

export const defaultIngestLimits: IngestLimits = {
  // 5,000 operations of ~150 bytes is under 1 MB on the wire and one multi-row insert of a few tens of ms: large
  // enough that batching pays off, small enough that one call cannot monopolise the node's persistence queue.
  maxItems: 5_000,
  // About five working years (2,000 h each) of one person's manual work saved by a single operation. Real operations
  // save minutes to hours; far beyond that is a unit mix-up (minutes or seconds sent as hours) that would swamp
  // burden_saved_seconds_total and every amplification ratio computed from it, so it is refused rather than recorded.
  maxBurdenHours: 10_000,
  // NTP keeps clocks within milliseconds; 5 minutes tolerates a badly drifting reporter without letting an
  // operation land in a window that has not happened yet (it would inflate that future window's burden rate).
  maxClockSkewMs: 5 * 60_000,
  // The longest window anything reads operation_history for is the 30-day stage-4 gate; older operations could only
  // ever be deleted by retention, so accepting them would report success for data nobody will use.
  maxAgeMs: 30 * 86_400_000,
};

/** Rules from the loaded layers config and the cluster's member names. */
export function ingestRules(
  layers: Pick<LayersConfig, 'layers'>,
  members: readonly string[],
  limits: Partial<IngestLimits> = {},
  self?: string,
): IngestRules {
  const frameworks = new Map<string, LayerId>();
  for (const layer of layers.layers) for (const f of layer.frameworks) frameworks.set(f.id, layer.id);
  return {
    frameworks,
    members: [...members],
    ...(self !== undefined ? { self } : {}),
    limits: { ...defaultIngestLimits, ...limits },
  };
}

/**
 * One operation as outside automation reports it, not yet checked: every field may be missing or wrong. Reasons name
 * the fields as the API spells them (`operations[3].burden_saved_hours`), since that is what the sender wrote.
 */
export interface OperationInput {
  operationId?: string;
  frameworkId?: string;
  layer?: string;
  instance?: string;
  /** ms since the Unix epoch */
  startedAtMs?: number;
  durationMs?: number;
  burdenSavedHours?: number;
  success?: boolean;
  errorType?: string;
  traceId?: string;
}

export interface ValidationContext {
  /** This node's clock (ms since the epoch): what "in the future" and "too old" are measured against. */
  nowMs: number;
  /** The call's trace id, stored for items that carry none. */
  callTraceId: string | null;
  /** Mints operation ids for items without one; crypto.randomUUID unless a test pins it. */
  newOperationId?: () => string;
}

export type ItemVerdict =
  | { index: number; accepted: true; record: OperationRecord }
  | { index: number; accepted: false; operationId: string; reason: string };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Covers W3C/OpenTelemetry ids (32 hex), AWS X-Ray ids (1-5759e988-bd86…), triad's own (32 hex); 64 is the longest
// trace id the gRPC edge takes from metadata. The charset keeps ids safe to paste into log queries and URLs.
const traceIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Checks a batch item by item (pure: the clock and the id generator come in through `context`). Whole-batch problems
 * (empty, too many items) throw INPUT_INVALID; everything else becomes a per-item verdict whose reason names the
 * field, what was received and what is allowed, every problem of the item joined by "; ".
 */
export function validateOperations(
  items: readonly OperationInput[],
  rules: IngestRules,
  context: ValidationContext,
): ItemVerdict[] {
  const { maxItems } = rules.limits;
  if (items.length === 0) {
    throw new TriadError('INPUT_INVALID', `operations is empty: send 1 to ${maxItems} operations per call`);
  }
  if (items.length > maxItems) {
    throw new TriadError(
      'INPUT_INVALID',
      `operations has ${items.length} items, at most ${maxItems} are allowed per call: split the batch`,
    );
  }
  const newId = context.newOperationId ?? randomUUID;
  const firstIndexOfId = new Map<string, number>();
  return items.map((item, index) => {
    const problems: string[] = [];
    const at = (field: string) => `operations[${index}].${field}`;

    let operationId = '';
    const sentId = item.operationId ?? '';
    if (sentId === '') {
      operationId = newId();
    } else if (!uuidPattern.test(sentId)) {
      problems.push(`${at('operation_id')}: expected a UUID (8-4-4-4-12 hex digits), received ${quote(sentId)}`);
    } else {
      operationId = sentId.toLowerCase(); // PostgreSQL's uuid compares this way, so duplicates are found as it would
      const first = firstIndexOfId.get(operationId);
      if (first === undefined) firstIndexOfId.set(operationId, index);
      else
        problems.push(
          `${at('operation_id')}: ${operationId} is also the id of operations[${first}]: each needs its own`,
        );
    }

    const frameworkId = item.frameworkId ?? '';
    const frameworkLayer = rules.frameworks.get(frameworkId);
    if (frameworkId === '') {
      problems.push(`${at('framework_id')}: required (a framework id from layers.yaml, e.g. ${firstKey(rules)})`);
    } else if (frameworkLayer === undefined) {
      problems.push(
        `${at('framework_id')}: unknown framework ${quote(frameworkId)} (frameworks: ${[...rules.frameworks.keys()].join(', ')})`,
      );
    }

    const sentLayer = item.layer ?? '';
    if (sentLayer !== '' && !isLayerId(sentLayer)) {
      problems.push(`${at('layer')}: unknown layer ${quote(sentLayer)} (layers: ${layerIds.join(', ')})`);
    } else if (sentLayer !== '' && frameworkLayer !== undefined && sentLayer !== frameworkLayer) {
      problems.push(`${at('layer')}: framework ${frameworkId} belongs to ${frameworkLayer}, received ${sentLayer}`);
    }

    const instance = item.instance ?? '';
    if (!rules.members.includes(instance)) {
      problems.push(
        `${at('instance')}: ${instance === '' ? 'required' : `unknown instance ${quote(instance)}`} (instances: ${rules.members.join(', ')})`,
      );
    } else if (rules.self !== undefined && instance !== rules.self) {
      problems.push(
        `${at('instance')}: this node is ${rules.self} and counts only its own operations; send ${instance}'s to ${instance}`,
      );
    }

    const startedAt = item.startedAtMs ?? 0;
    const timeProblem = checkStartedAt(startedAt, rules.limits, context.nowMs);
    if (timeProblem) problems.push(`${at('started_at_ms')}: ${timeProblem}`);

    const durationMs = item.durationMs ?? 0;
    if (!isFiniteNonNegative(durationMs)) {
      problems.push(`${at('duration_ms')}: expected a finite number ≥ 0, received ${show(durationMs)}`);
    }
    const burden = item.burdenSavedHours ?? 0;
    if (!isFiniteNonNegative(burden)) {
      problems.push(`${at('burden_saved_hours')}: expected a finite number ≥ 0, received ${show(burden)}`);
    } else if (burden > rules.limits.maxBurdenHours) {
      problems.push(
        `${at('burden_saved_hours')}: expected at most ${rules.limits.maxBurdenHours} hours for one operation, received ${burden} (minutes or seconds sent as hours?)`,
      );
    }

    const success = item.success ?? false;
    const sentErrorType = item.errorType ?? '';
    let errorType: ErrorType | null = null;
    if (success && sentErrorType !== '') {
      problems.push(`${at('error_type')}: must be empty when success is true, received ${quote(sentErrorType)}`);
    } else if (!success && sentErrorType === '') {
      problems.push(`${at('error_type')}: required when success is false (one of ${errorTypes.join(', ')})`);
    } else if (!success) {
      if (isErrorType(sentErrorType)) errorType = sentErrorType;
      else
        problems.push(
          `${at('error_type')}: unknown error type ${quote(sentErrorType)} (one of ${errorTypes.join(', ')})`,
        );
    }

    const sentTrace = item.traceId ?? '';
    if (sentTrace !== '' && !traceIdPattern.test(sentTrace)) {
      problems.push(
        sentTrace.length > 64
          ? `${at('trace_id')}: expected at most 64 characters, received ${sentTrace.length}`
          : `${at('trace_id')}: expected letters, digits and . _ : - only, received ${quote(sentTrace)}`,
      );
    }

    if (problems.length > 0 || frameworkLayer === undefined) {
      return { index, accepted: false, operationId, reason: problems.join('; ') };
    }
    return {
      index,
      accepted: true,
      record: {
        operationId,
        frameworkId,
        layer: frameworkLayer,
        instance,
        startedAt,
        durationMs,
        burdenSavedHours: burden,
        success,
        errorType,
        traceId: sentTrace === '' ? context.callTraceId : sentTrace,
        source: 'ingest',
        cohort: null,
      },
    };
  });
}

function checkStartedAt(startedAt: number, limits: IngestLimits, nowMs: number): string | undefined {
  if (startedAt === 0) return 'required (ms since the Unix epoch when the operation started)';
  if (!Number.isSafeInteger(startedAt)) return `expected whole ms since the Unix epoch, received ${show(startedAt)}`;
  const ahead = startedAt - nowMs;
  if (ahead > limits.maxClockSkewMs) {
    return `${iso(startedAt)} is ahead of this node's clock (${iso(nowMs)}) by more than the ${formatDurationMs(limits.maxClockSkewMs)} of clock skew allowed`;
  }
  if (-ahead > limits.maxAgeMs) {
    return `${iso(startedAt)} is more than ${formatDurationMs(limits.maxAgeMs)} before this node's clock (${iso(nowMs)}): older operations are past retention`;
  }
  return undefined;
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function isFiniteNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isErrorType(value: string): value is ErrorType {
  return (errorTypes as readonly string[]).includes(value);
}

/** Numbers as received (NaN, Infinity, -Infinity print as such); anything else with its type. */
function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : `${typeof value} ${quote(String(value))}`;
}

/** A received string, JSON-quoted and cut at 64 characters, so a hostile input cannot blow up the reply. */
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function firstKey(rules: IngestRules): string {
  return rules.frameworks.keys().next().value ?? 'R1_SOVEREIGNTY_MEASUREMENT';
}
