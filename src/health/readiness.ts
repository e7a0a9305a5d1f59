/**
 * Readiness is the conjunction of named checks, each able to say why it fails. /ready, the gRPC health service and
 * `triad status` all read this one object, so they never disagree. Liveness (/health) deliberately reads nothing:
 * a node that can answer HTTP is alive, whatever its dependencies say (restarting it would not fix a dead peer).
 */
export interface CheckResult {
  ok: boolean;
  /** Why the check fails, for operators: "peer gamma unreachable (last seen 4.1s ago)". */
  reason?: string;
}

export type ReadinessCheck = () => CheckResult | CheckResult[];

export interface ReadinessReport {
  ready: boolean;
  reasons: string[];
  checks: Record<string, boolean>;
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private started = false;
  private stopping = false;

  register(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" registered twice`);
    this.checks.set(name, check);
  }

  /** Until start-up finishes the node is not ready, whatever the checks say. */
  markStarted(): void {
    this.started = true;
  }

  /** From the start of a graceful stop the node is not ready either: probes move away while it drains. */
  markStopping(): void {
    this.stopping = true;
  }

  evaluate(): ReadinessReport {
    const reasons: string[] = this.stopping ? ['stopping'] : this.started ? [] : ['starting'];
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.checks) {
      const results = [check()].flat();
      checks[name] = results.every((r) => r.ok);
      for (const r of results) if (!r.ok) reasons.push(r.reason ?? `${name} failing`);
    }
    return { ready: reasons.length === 0, reasons, checks };
  }
}
