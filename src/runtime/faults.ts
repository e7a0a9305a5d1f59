import { TriadError } from '../shared/index.js';

/** What the synthetic pack can be made to do wrong, per instance and layer, so gates, alerts and rollbacks can be shown. */
export interface Fault {
  /** Extra probability (0–1) that an operation fails (error_type "injected"). */
  errorRate: number;
  /** Multiplies the burden each operation saves (0.5 halves the layer's amplification). */
  burdenScale: number;
  /** Added to every operation's duration, really waited. */
  latencyMs: number;
}

export const noFault: Fault = { errorRate: 0, burdenScale: 1, latencyMs: 0 };

export function validateFault(f: Fault): Fault {
  const problems: string[] = [];
  if (!(f.errorRate >= 0 && f.errorRate <= 1)) problems.push(`error rate must be from 0 to 1, received ${f.errorRate}`);
  if (!(f.burdenScale >= 0 && f.burdenScale <= 100))
    problems.push(`burden scale must be from 0 to 100, received ${f.burdenScale}`);
  if (!(f.latencyMs >= 0 && f.latencyMs <= 60_000))
    problems.push(`latency must be from 0 to 60000 ms, received ${f.latencyMs}`);
  if (problems.length > 0) throw new TriadError('INPUT_INVALID', problems.join('; '));
  return f;
}

export function isNoFault(f: Fault): boolean {
  return f.errorRate === 0 && f.burdenScale === 1 && f.latencyMs === 0;
}
