import { status } from '@grpc/grpc-js';

/**
 * One table decides how a failure looks on the wire and at the shell. Add rows; never rename a code:
 * scripts and runbooks match on them.
 * Exit codes (DESIGN §5): 0 done · 1 failed · 2 usage or bad input · 3 refused by a gate or lock.
 */
export const errorKinds = {
  USAGE: { grpc: status.INVALID_ARGUMENT, exit: 2 },
  CONFIG_INVALID: { grpc: status.INVALID_ARGUMENT, exit: 2 },
  INPUT_INVALID: { grpc: status.INVALID_ARGUMENT, exit: 2 },
  NOT_FOUND: { grpc: status.NOT_FOUND, exit: 2 },
  GATE_REFUSED: { grpc: status.FAILED_PRECONDITION, exit: 3 },
  LOCK_HELD: { grpc: status.ABORTED, exit: 3 },
  PERMISSION_DENIED: { grpc: status.PERMISSION_DENIED, exit: 3 },
  UNAUTHENTICATED: { grpc: status.UNAUTHENTICATED, exit: 3 },
  PEER_UNAVAILABLE: { grpc: status.UNAVAILABLE, exit: 1 },
  STORAGE_UNAVAILABLE: { grpc: status.UNAVAILABLE, exit: 1 },
  TIMEOUT: { grpc: status.DEADLINE_EXCEEDED, exit: 1 },
  NOT_CONVERGED: { grpc: status.ABORTED, exit: 1 },
  RESOURCE_EXHAUSTED: { grpc: status.RESOURCE_EXHAUSTED, exit: 1 },
  STARTUP_FAILED: { grpc: status.INTERNAL, exit: 1 },
  INTERNAL: { grpc: status.INTERNAL, exit: 1 },
  /** The audit chain or a desired-state version does not verify: tampering, or rows lost. */
  AUDIT_TAMPERED: { grpc: status.DATA_LOSS, exit: 1 },
  // Day-2 operations (triad backup / restore / verify-database).
  BACKUP_INVALID: { grpc: status.INVALID_ARGUMENT, exit: 2 },
  DATABASE_NOT_EMPTY: { grpc: status.FAILED_PRECONDITION, exit: 3 },
  DATABASE_INCONSISTENT: { grpc: status.DATA_LOSS, exit: 1 },
  // activate-layers' precheck found failing checks (the issue: "refuse with the failing checks", exit 1).
  PRECHECK_FAILED: { grpc: status.FAILED_PRECONDITION, exit: 1 },
} as const satisfies Record<string, { grpc: status; exit: 1 | 2 | 3 }>;

export type ErrorCode = keyof typeof errorKinds;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorKinds, value);
}

export interface TriadErrorOptions extends ErrorOptions {
  /** Structured, JSON-serialisable facts (a refused gate's checks); they travel with the error over gRPC. */
  details?: unknown;
}

export class TriadError extends Error {
  /** The message without the `[CODE]` prefix, for places that print the code separately (JSON output, gRPC details). */
  readonly detail: string;
  readonly details?: unknown;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: TriadErrorOptions,
  ) {
    super(`[${code}] ${message}`, options);
    this.name = new.target.name;
    this.detail = message;
    if (options?.details !== undefined) this.details = options.details;
  }

  get exitCode(): 1 | 2 | 3 {
    return errorKinds[this.code].exit;
  }
}

/** One problem found in a config file, located as precisely as the parser allows (`file:line:col`). */
export interface ConfigIssue {
  where: string;
  field: string;
  message: string;
}

export class ConfigError extends TriadError {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super('CONFIG_INVALID', formatIssues(issues));
  }
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  const lines = issues.map((i) => `${i.where}: ${i.field ? `${i.field}: ` : ''}${i.message}`);
  return lines.length === 1 ? (lines[0] ?? '') : `${lines.length} problems:\n  ${lines.join('\n  ')}`;
}

/** Wraps anything thrown into a TriadError so every exit path has a code; unknown failures are INTERNAL. */
export function asTriadError(err: unknown): TriadError {
  if (err instanceof TriadError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TriadError('INTERNAL', message, { cause: err });
}
