// The runtime's Admin calls (R6 runs, synthetic faults) between their wire form and the runtime's.
import type { LayerId } from '../config/index.js';
import type { Fault, FaultsOf, R6Run } from '../runtime/index.js';
import type { InjectFaultReply, InjectFaultRequest, R6Result } from './admin-messages.js';

export function toWireR6(run: R6Run): R6Result {
  return {
    instance: run.instance,
    operation_id: run.operationId,
    burden_saved_hours: run.burdenSavedHours,
    has_amplification: run.amplification !== undefined,
    amplification: run.amplification ?? 0,
    duration_ms: run.durationMs,
    success: run.success,
  };
}

export function fromWireR6(r: R6Result): R6Run {
  return {
    instance: r.instance,
    operationId: r.operation_id,
    burdenSavedHours: r.burden_saved_hours,
    ...(r.has_amplification ? { amplification: r.amplification } : {}),
    durationMs: r.duration_ms,
    success: r.success,
  };
}

/** An InjectFault request as the runtime takes it: `clear`, or a fault (burden_scale 0 means "unchanged", 1). */
export function fromWireFault(request: InjectFaultRequest): { fault?: Fault; actor: string; reason?: string } {
  return {
    ...(request.clear
      ? {}
      : {
          fault: {
            errorRate: request.error_rate,
            burdenScale: request.burden_scale === 0 ? 1 : request.burden_scale,
            latencyMs: request.latency_ms,
          },
        }),
    actor: request.actor,
    ...(request.reason ? { reason: request.reason } : {}),
  };
}

/** A fault forwarded to its instance: the forwarding node is the caller there, so the operator goes as the actor field. */
export function toWireFaultRequest(
  instance: string,
  change: { layer: LayerId; fault?: Fault; actor: string; onBehalfOf?: string; reason?: string },
): InjectFaultRequest {
  return {
    instance,
    layer: change.layer,
    error_rate: change.fault?.errorRate ?? 0,
    burden_scale: change.fault?.burdenScale ?? 0,
    latency_ms: change.fault?.latencyMs ?? 0,
    clear: change.fault === undefined,
    actor: change.onBehalfOf ? `${change.onBehalfOf} via ${change.actor}` : change.actor,
    reason: change.reason ?? '',
  };
}

export function toWireFaults(f: FaultsOf): InjectFaultReply {
  return {
    instance: f.instance,
    faults: Object.entries(f.faults).map(([layer, fault]) => ({
      layer,
      error_rate: fault.errorRate,
      burden_scale: fault.burdenScale,
      latency_ms: fault.latencyMs,
    })),
  };
}

export function fromWireFaults(r: InjectFaultReply): FaultsOf {
  return {
    instance: r.instance,
    faults: Object.fromEntries(
      r.faults.map((f) => [f.layer, { errorRate: f.error_rate, burdenScale: f.burden_scale, latencyMs: f.latency_ms }]),
    ),
  };
}
