import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../shared/index.js';

export interface ChildSpec {
  name: string;
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** stdout and stderr of the child are appended here (JSON log lines). */
  logFile: string;
}

export type SupervisorEvent =
  | { type: 'started'; name: string; pid: number; attempt: number }
  | { type: 'exited'; name: string; pid: number; code: number | null; signal: string | null; restartInMs?: number }
  | { type: 'stopping'; name: string; pid: number }
  | { type: 'killed'; name: string; pid: number };

export interface SupervisorOptions {
  clock: Clock;
  onEvent: (event: SupervisorEvent) => void;
  backoff?: BackoffPolicy;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A child that ran this long before dying is considered to have recovered: its backoff starts over. */
  resetAfterMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 500, maxMs: 30_000, resetAfterMs: 30_000 };

/** Exponential: initial, 2×, 4× … capped; `failures` counts consecutive quick deaths (1 for the first). */
export function restartDelayMs(policy: BackoffPolicy, failures: number): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
}

interface Supervised {
  spec: ChildSpec;
  process?: ChildProcess;
  startedAt: number;
  failures: number;
  attempt: number;
  restartTimer?: NodeJS.Timeout;
  exited?: Promise<void>;
}

/**
 * Starts child processes and keeps them running: a child that dies is restarted after an exponential backoff
 * (logged through onEvent). stop() ends them all: SIGTERM, then SIGKILL for any still alive after the grace period.
 */
export class Supervisor {
  private readonly children = new Map<string, Supervised>();
  private stopping = false;
  private readonly backoff: BackoffPolicy;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = options.backoff ?? defaultBackoff;
  }

  start(spec: ChildSpec): void {
    const child: Supervised = { spec, startedAt: 0, failures: 0, attempt: 0 };
    this.children.set(spec.name, child);
    this.launch(child);
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.children].map(([name, c]) => [name, c.process?.pid]));
  }

  private launch(child: Supervised): void {
    const { spec } = child;
    mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const log = openSync(spec.logFile, 'a');
    // 'ipc' gives the child a channel that closes if this process dies in any way, so no node outlives its supervisor.
    const proc = spawn(spec.command, [...spec.args], {
      env: spec.env,
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    child.process = proc;
    child.attempt += 1;
    child.startedAt = this.options.clock.now();
    child.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.onExit(child, proc, code, signal);
        resolve();
      });
    });
    proc.once('error', () => {
      // 'exit' follows for spawn failures of an existing binary; the exit handler does the bookkeeping.
    });
    if (proc.pid !== undefined) {
      this.options.onEvent({ type: 'started', name: spec.name, pid: proc.pid, attempt: child.attempt });
    }
  }

  private onExit(child: Supervised, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const pid = proc.pid ?? -1;
    if (this.stopping) {
      this.options.onEvent({ type: 'exited', name: child.spec.name, pid, code, signal });
      return;
    }
    const ranMs = this.options.clock.now() - child.startedAt;
    child.failures = ranMs >= this.backoff.resetAfterMs ? 1 : child.failures + 1;
    const delay = restartDelayMs(this.backoff, child.failures);
    this.options.onEvent({ type: 'exited', name: child.spec.name, pid, code, signal, restartInMs: delay });
    child.restartTimer = setTimeout(() => {
      child.restartTimer = undefined;
      if (!this.stopping) this.launch(child);
    }, delay);
  }

  /** SIGTERM to every child, SIGKILL to those still running after `graceMs`; resolves when all have exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.restartTimer) clearTimeout(child.restartTimer);
        const proc = child.process;
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
        const pid = proc.pid ?? -1;
        this.options.onEvent({ type: 'stopping', name: child.spec.name, pid });
        proc.kill('SIGTERM');
        const killer = setTimeout(() => {
          this.options.onEvent({ type: 'killed', name: child.spec.name, pid });
          proc.kill('SIGKILL');
        }, graceMs);
        await child.exited;
        clearTimeout(killer);
      }),
    );
  }
}
