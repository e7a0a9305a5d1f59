import { TriadError, type Clock } from '../shared/index.js';
import type { InstanceApply } from './mutation-result.js';

export interface ApplyWaitDeps {
  clock: Clock;
  members: readonly string[];
  reachable: (instance: string) => boolean;
  /** Asks an instance to apply `version` now; resolves with the version it has applied. */
  pushApply: (instance: string, version: number, deadlineMs: number) => Promise<number>;
}

/** How long a targeted instance's push is retried between attempts while it does not answer. */
const retryEveryMs = 200;
/** One push never waits longer than this; an unreachable instance is retried instead. */
const attemptMs = 2_000;
/** Untargeted instances are told in parallel; this is how long the answer waits for them before it goes. */
const untargetedGraceMs = 50;

/**
 * Pushes the version to every node and waits for the targeted ones (retrying an unreachable one until the deadline);
 * the others are told too but not waited for. Every instance is in the result, with what is known of it.
 */
export async function waitForApply(
  deps: ApplyWaitDeps,
  version: number,
  targeted: readonly string[],
  timeoutMs: number,
  progress: (p: InstanceApply) => void,
): Promise<InstanceApply[]> {
  const { clock, members } = deps;
  const deadline = clock.now() + timeoutMs;
  const results = new Map<string, InstanceApply>();
  const attempt = async (instance: string, retry: boolean): Promise<void> => {
    const start = clock.monotonicMs();
    let error = '';
    for (;;) {
      const remaining = deadline - clock.now();
      try {
        const applied = await deps.pushApply(instance, version, Math.max(1, Math.min(remaining, attemptMs)));
        const entry: InstanceApply = {
          instance,
          targeted: retry,
          reachable: true,
          applied: applied >= version,
          appliedVersion: applied,
          applyMs: clock.monotonicMs() - start,
          expectedMs: 0,
        };
        results.set(instance, entry);
        progress(entry);
        return;
      } catch (err) {
        error = err instanceof TriadError ? err.detail : String(err);
      }
      if (!retry || clock.now() + retryEveryMs >= deadline) break;
      await clock.sleep(retryEveryMs);
    }
    const entry: InstanceApply = {
      instance,
      targeted: retry,
      reachable: false,
      applied: false,
      appliedVersion: 0,
      applyMs: clock.monotonicMs() - start,
      expectedMs: 0,
      error,
    };
    results.set(instance, entry);
    progress(entry);
  };
  const others = members.filter((m) => !targeted.includes(m)).map((m) => attempt(m, false));
  await Promise.all(targeted.map((m) => attempt(m, true)));
  // Untargeted nodes got the push in parallel; most have answered by now, the rest are reported as not waited for.
  await Promise.race([Promise.all(others), clock.sleep(untargetedGraceMs)]);
  return members.map(
    (instance) =>
      results.get(instance) ?? {
        instance,
        targeted: false,
        reachable: deps.reachable(instance),
        applied: false,
        appliedVersion: 0,
        applyMs: 0,
        expectedMs: 0,
        error: 'not waited for (not changed by this version)',
      },
  );
}
