// triad.v1.Admin messages between their wire form (admin.proto: snake_case, proto3 defaults) and the domain's.
import type {
  GateCheck,
  HealthReport as DomainHealthReport,
  HistoryEntry,
  InstanceApply as DomainInstanceApply,
  MutationInput,
  MutationOptions as DomainMutationOptions,
  MutationPlan as DomainMutationPlan,
  MutationResult as DomainMutationResult,
  Transition,
} from '../layer-manager/index.js';
import type { AuditVerification } from '../storage/index.js';
import { TriadError } from '../shared/index.js';
import type {
  HealthReport,
  InstanceApply,
  MutationPlan,
  MutationRequest,
  MutationResult,
  VerifyAuditReply,
  VersionSummary,
  WireGateCheck,
  WireTransition,
} from './admin-messages.js';

/**
 * A Mutate request as the layer manager takes it. proto3 has no absent scalars: 0 and "" mean "not given" here
 * (percentage, timeout, reason, label), which is what the CLI sends when a flag is left out.
 */
export function fromWireMutation(request: MutationRequest): {
  input: MutationInput;
  options: Omit<DomainMutationOptions, 'actor' | 'correlationId'> & { actor?: string };
} {
  const o = request.options;
  const options = {
    dryRun: o?.dry_run ?? false,
    force: o?.force ?? false,
    ...(o?.reason ? { reason: o.reason } : {}),
    ...(o?.label ? { label: o.label } : {}),
    ...(o?.timeout_ms ? { timeoutMs: o.timeout_ms } : {}),
    ...(o?.actor ? { actor: o.actor } : {}),
  };
  switch (request.command) {
    case 'activate': {
      const a = request.activate;
      return {
        input: {
          kind: 'activate',
          layers: a?.layers ?? [],
          instances: a?.instances ?? [],
          ...(a?.percentage ? { percentage: a.percentage } : {}),
        },
        options,
      };
    }
    case 'deactivate': {
      const d = request.deactivate;
      return {
        input: {
          kind: 'deactivate',
          layers: d?.layers ?? [],
          instances: d?.instances ?? [],
          cascade: d?.cascade ?? false,
        },
        options,
      };
    }
    case 'framework':
      return {
        input: {
          kind: 'framework',
          frameworkId: request.framework?.framework_id ?? '',
          enabled: request.framework?.enabled ?? false,
        },
        options,
      };
    case 'rollback':
      return { input: { kind: 'rollback', to: request.rollback?.to ?? '' }, options };
    case 'emergency_disable':
      return { input: { kind: 'emergency_disable' }, options };
    default:
      throw new TriadError(
        'INPUT_INVALID',
        'the request names no command (activate, deactivate, framework, rollback, emergency_disable)',
      );
  }
}

export function toWireTransition(t: Transition): WireTransition {
  return {
    instance: t.instance,
    subject: t.subject,
    action: t.action,
    from_percentage: t.fromPercentage,
    to_percentage: t.toPercentage,
  };
}

export function toWireCheck(c: GateCheck): WireGateCheck {
  return {
    instance: c.instance,
    layer: c.layer,
    check: c.check,
    status: c.status,
    measured: c.measured,
    threshold: c.threshold,
    samples: c.samples,
    detail: c.detail,
  };
}

export function toWireInstanceApply(i: DomainInstanceApply): InstanceApply {
  return {
    instance: i.instance,
    targeted: i.targeted,
    reachable: i.reachable,
    applied: i.applied,
    applied_version: i.appliedVersion,
    apply_ms: i.applyMs,
    expected_ms: i.expectedMs,
    error: i.error ?? '',
  };
}

export function toWirePlan(p: DomainMutationPlan): MutationPlan {
  return {
    command: p.command,
    before_version: p.beforeVersion,
    after_version: p.afterVersion,
    transitions: p.transitions.map(toWireTransition),
    checks: p.checks.map(toWireCheck),
    override: p.override,
    undo_command: p.undoCommand ?? '',
    dry_run: p.dryRun,
    correlation_id: p.correlationId,
    label: p.label ?? '',
    instances: p.instances.map(toWireInstanceApply),
    detection_budgets: p.detectionBudgets.map((b) => ({
      layer: b.layer,
      trigger_id: b.triggerId,
      budget_ms: b.budgetMs,
      for_ms: b.forMs,
    })),
  };
}

export function toWireResult(r: DomainMutationResult): MutationResult {
  return {
    plan: toWirePlan(r.plan),
    instances: r.instances.map(toWireInstanceApply),
    complete: r.complete,
    duration_ms: r.durationMs,
  };
}

/** A refused gate's details travel as the wire checks (the CLI renders them). */
export function toWireErrorDetails(err: TriadError): TriadError {
  const checks = (err.details as { checks?: GateCheck[] } | undefined)?.checks;
  if (err.code !== 'GATE_REFUSED' || !checks) return err;
  return new TriadError(err.code, err.detail, { cause: err, details: { checks: checks.map(toWireCheck) } });
}

export function toWireHealth(r: DomainHealthReport): HealthReport {
  return {
    layers: r.layers.map((l) => ({
      layer: l.layer,
      status: l.status,
      enabled_on: l.enabledOn,
      applied_on: l.appliedOn,
      has_amplification: l.amplification !== undefined,
      amplification: l.amplification ?? 0,
      acceptable_low: l.band?.acceptable[0] ?? 0,
      acceptable_high: l.band?.acceptable[1] ?? 0,
      alert_below: l.band?.alertBelow ?? 0,
      has_error_rate: l.errorRate !== undefined,
      error_rate: l.errorRate ?? 0,
      samples: l.samples,
      problems: l.problems,
      instances: l.instances.map((i) => ({
        instance: i.instance,
        status: i.status,
        has_amplification: i.amplification !== undefined,
        amplification: i.amplification ?? 0,
        has_error_rate: i.errorRate !== undefined,
        error_rate: i.errorRate ?? 0,
        samples: i.samples,
        settled: i.settled,
        problems: i.problems,
      })),
    })),
    desired_version: r.desiredVersion,
    consensus_error: r.consensus?.error ?? 0,
    consensus_converged: r.consensus?.converged ?? false,
    consensus_at_ms: r.consensus?.atMs ?? 0,
    unreachable: r.unreachable,
    healthy: r.healthy,
  };
}

export function toWireVersion(entry: HistoryEntry): VersionSummary {
  const { row } = entry;
  return {
    version: row.version,
    label: row.label ?? '',
    created_at_ms: row.createdAt,
    created_by: row.createdBy,
    command: row.command,
    reason: row.reason ?? '',
    correlation_id: row.correlationId,
    state_json: JSON.stringify(row.state),
    changes: entry.changes.map(toWireTransition),
  };
}

export function toWireAuditVerification(v: AuditVerification): VerifyAuditReply {
  return v.ok
    ? { ok: true, rows: v.rows, broken_at: 0, reason: '' }
    : { ok: false, rows: v.rows, broken_at: v.brokenAt ?? 0, reason: v.reason };
}
