import type pg from 'pg';
import type { LayerId, LayersConfig, Timing } from '../config/index.js';
import type { InstanceApply, MutationPlan, MutationResult, WireGateCheck } from '../protocol/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import { appendAudit, lockKeys, notify, withTransaction } from '../storage/index.js';
import type { BandTracker } from './bands.js';
import {
  activate,
  deactivate,
  diffStates,
  emergencyDisable,
  setFrameworkEnabled,
  type DesiredState,
  type Transition,
} from './desired-state.js';
import { evaluateGates, type AgreedFigures, type GateCheck } from './gates.js';
import { detectionBudgets } from './triggers.js';
import { describeMutation, parseMutation, type Mutation, type MutationOptions } from './mutation-input.js';
import type { DesiredStateStore, VersionRow } from './store.js';
import type { MutationRequest } from '../protocol/index.js';

/** NOTIFY channel every node LISTENs on; the payload is the new version number. */
export const desiredStateChannel = 'triad_desired_state';
/** How long a mutation waits for another to release the cluster deployment lock before LOCK_HELD. */
const defaultLockWaitMs = 5_000;

export interface LayerManagerDeps {
  pool: pg.Pool;
  store: DesiredStateStore;
  layers: LayersConfig;
  members: readonly string[];
  clock: Clock;
  log: Logger;
  /** Durations, minimums and the window in force for the profile (gates, detection budgets). */
  timing: Timing;
  agreed: () => AgreedFigures | undefined;
  bands: BandTracker;
  reachable: (instance: string) => boolean;
  /** Round trip to an instance from its heartbeats (0 for this node), for the dry run's time estimate. */
  rttMs: (instance: string) => number;
  /** Asks an instance to apply `version` now; resolves with the version it has applied. */
  pushApply: (instance: string, version: number, deadlineMs: number) => Promise<number>;
  /** A layer went down through a rollback path: `reason` is "manual" or the trigger id. */
  onRollback: (layer: LayerId, reason: string) => void;
  lockWaitMs?: number;
}

export interface MutationContext {
  /** Set by the automatic rollback: the trigger id, counted in triad_rollbacks_total{reason} instead of "manual". */
  rollbackReason?: string;
}

export class GateRefusedError extends TriadError {
  constructor(
    readonly failedChecks: GateCheck[],
    allChecks: GateCheck[],
  ) {
    const lines = failedChecks.map(
      (c) =>
        `${c.status} ${c.check} ${c.layer}${c.instance === '*' ? '' : ` on ${c.instance}`}: ${c.measured} (needs ${c.threshold})${c.samples ? `, ${c.samples} samples` : ''}${c.detail ? ` — ${c.detail}` : ''}`,
    );
    super(
      'GATE_REFUSED',
      `${failedChecks.length} gate check${failedChecks.length > 1 ? 's' : ''} did not pass:\n  ${lines.join('\n  ')}\n(--force --reason "…" overrides, audited)`,
      {
        details: { checks: allChecks.map(toWireCheck) },
      },
    );
  }
}

interface Prepared {
  plan: MutationPlan;
  after?: DesiredState;
  targeted: string[];
}

/**
 * Desired-state mutations (DESIGN §2): one new version per change, in one transaction under the cluster deployment
 * lock, with its audit row; gates before activations; then push the version to every node and wait for the ones it
 * changes. Break-glass paths (emergency-disable, framework switches) never consult gates or consensus.
 */
export class LayerManager {
  constructor(private readonly deps: LayerManagerDeps) {}

  async mutate(
    request: MutationRequest,
    correlationId: string,
    emit: (e: { committed?: MutationPlan; progress?: InstanceApply }) => void,
    context: MutationContext = {},
  ): Promise<MutationResult> {
    const started = this.deps.clock.monotonicMs();
    const { mutation, options } = parseMutation(request, { config: this.deps.layers, instances: this.deps.members });
    const prepared = await this.commit(mutation, options, correlationId, context);
    if (options.dryRun || prepared.plan.after_version === prepared.plan.before_version) {
      return {
        plan: prepared.plan,
        instances: prepared.plan.instances,
        complete: true,
        duration_ms: this.deps.clock.monotonicMs() - started,
      };
    }
    emit({ committed: prepared.plan });
    const instances = await this.waitForApply(prepared.plan.after_version, prepared.targeted, options.timeoutMs, (p) =>
      emit({ progress: p }),
    );
    const complete = instances.filter((i) => i.targeted).every((i) => i.applied);
    return { plan: prepared.plan, instances, complete, duration_ms: this.deps.clock.monotonicMs() - started };
  }

  private async commit(
    mutation: Mutation,
    options: MutationOptions,
    correlationId: string,
    context: MutationContext,
  ): Promise<Prepared> {
    const { store, clock, pool } = this.deps;
    let refusal: GateRefusedError | undefined;
    const prepared = await withTransaction(pool, async (client) => {
      await lockCluster(client, this.deps.lockWaitMs ?? defaultLockWaitMs);
      const latest = await store.latest(client);
      const after = await this.nextState(client, mutation, latest);
      const transitions = diffStates(latest.state, after, this.deps.members);
      if (options.label && (await store.byLabel(client, options.label))) {
        throw new TriadError('INPUT_INVALID', `label "${options.label}" already names another version`);
      }
      const checks = mutation.kind === 'activate' ? await this.gates(client, transitions, latest.state, after) : [];
      const failed = checks.filter((c) => c.status !== 'PASS');
      const override = failed.length > 0 && options.force;
      const command = describeMutation(mutation, options);
      // A label alone, or an emergency flag over layers that were all off already, is still a new version.
      const changes = options.label !== null || JSON.stringify(after) !== JSON.stringify(latest.state);
      const afterVersion = changes ? latest.version + 1 : latest.version;
      const plan = this.plan({
        command,
        before: latest.version,
        after: afterVersion,
        transitions,
        checks,
        override,
        options,
        correlationId,
      });
      const audit = {
        actor: options.actor,
        command,
        args: { mutation, dry_run: options.dryRun, force: options.force, label: options.label },
        reason: options.reason,
        correlation_id: correlationId,
        before_version: latest.version,
        override,
        undo_command: plan.undo_command,
        at: new Date(clock.now()),
      };
      if (failed.length > 0 && !options.force) {
        refusal = new GateRefusedError(failed, checks);
        // A refused attempt is audited too (it is an admin action), but writes no version.
        if (!options.dryRun)
          await appendAudit(client, { ...audit, after_version: null, outcome: 'refused: gates', undo_command: null });
        return { plan, targeted: [] };
      }
      if (options.dryRun || !changes) return { plan, targeted: [] };
      await store.insert(client, {
        version: afterVersion,
        label: options.label,
        state: after,
        createdBy: options.actor,
        command,
        reason: options.reason,
        correlationId,
        createdAt: clock.now(),
      });
      await appendAudit(client, {
        ...audit,
        after_version: afterVersion,
        outcome: override ? 'applied (gates overridden)' : 'applied',
      });
      await notify(client, desiredStateChannel, String(afterVersion));
      return { plan, after, targeted: targetedInstances(transitions, this.deps.members) };
    });
    if (refusal) throw refusal;
    if (!options.dryRun && prepared.plan.after_version > prepared.plan.before_version) {
      for (const t of prepared.plan.transitions) {
        if (t.action === 'deactivate' && mutation.kind !== 'activate')
          this.deps.onRollback(t.subject as LayerId, context.rollbackReason ?? 'manual');
      }
      this.deps.log.info(
        {
          operation: 'mutation',
          command: prepared.plan.command,
          version: prepared.plan.after_version,
          override: prepared.plan.override,
        },
        'desired state changed',
      );
    }
    return prepared;
  }

  private async nextState(client: pg.PoolClient, m: Mutation, latest: VersionRow): Promise<DesiredState> {
    switch (m.kind) {
      case 'activate':
        return activate(latest.state, m);
      case 'deactivate':
        return deactivate(latest.state, m, this.deps.layers);
      case 'framework':
        return setFrameworkEnabled(latest.state, m.frameworkId, m.enabled);
      case 'emergency_disable':
        return emergencyDisable(latest.state);
      case 'rollback': {
        const target =
          'version' in m.to
            ? await this.deps.store.byVersion(client, m.to.version)
            : await this.deps.store.byLabel(client, m.to.label);
        if (!target) {
          const what = 'version' in m.to ? `version ${m.to.version}` : `a version labelled "${m.to.label}"`;
          throw new TriadError('NOT_FOUND', `there is no ${what} (newest is ${latest.version}; see triad history)`);
        }
        return structuredClone(target.state);
      }
    }
  }

  private async gates(
    client: pg.PoolClient,
    transitions: Transition[],
    before: DesiredState,
    after: DesiredState,
  ): Promise<GateCheck[]> {
    const targets = transitions
      .filter((t) => t.action === 'activate' || (t.action === 'percentage' && t.toPercentage > t.fromPercentage))
      .map((t) => ({ instance: t.instance, layer: t.subject as LayerId }));
    if (targets.length === 0) return [];
    // Only the stable-window checks read history: the layers of the stage before each target's, on its instance.
    const since = new Map<string, number | undefined>();
    for (const { instance, layer } of targets) {
      const own = this.deps.layers.layers.find((l) => l.id === layer)?.stage ?? 0;
      const previous = [...this.deps.layers.stages].reverse().find((s) => s.stage < own);
      for (const l of previous?.layers ?? []) {
        const key = `${instance}|${l}`;
        if (!since.has(key)) since.set(key, await this.deps.store.activeSince(client, instance, l));
      }
    }
    return evaluateGates(targets, {
      config: this.deps.layers,
      timing: this.deps.timing,
      now: this.deps.clock.now(),
      before,
      after,
      activeSince: (instance, layer) => since.get(`${instance}|${layer}`),
      agreed: this.deps.agreed(),
      bands: this.deps.bands,
      reachable: this.deps.reachable,
    });
  }

  private plan(p: {
    command: string;
    before: number;
    after: number;
    transitions: Transition[];
    checks: GateCheck[];
    override: boolean;
    options: MutationOptions;
    correlationId: string;
  }): MutationPlan {
    const targeted = targetedInstances(p.transitions, this.deps.members);
    return {
      command: p.command,
      before_version: p.before,
      after_version: p.after,
      transitions: p.transitions.map((t) => ({
        instance: t.instance,
        subject: t.subject,
        action: t.action,
        from_percentage: t.fromPercentage,
        to_percentage: t.toPercentage,
      })),
      checks: p.checks.map(toWireCheck),
      override: p.override,
      undo_command: p.after > p.before ? `triad rollback --to-version ${p.before}` : '',
      dry_run: p.options.dryRun,
      correlation_id: p.correlationId,
      label: p.options.label ?? '',
      detection_budgets: [
        ...new Set(p.transitions.filter((t) => t.action === 'activate').map((t) => t.subject as LayerId)),
      ].flatMap((layer) =>
        detectionBudgets(layer, this.deps.layers, this.deps.timing).map((b) => ({
          layer,
          trigger_id: b.triggerId,
          budget_ms: b.budgetMs,
          for_ms: b.forMs,
        })),
      ),
      // Applying is a fetch of the version plus an in-memory switch: the round trip dominates what an instance takes.
      instances: this.deps.members.map((instance) => ({
        instance,
        targeted: targeted.includes(instance),
        reachable: this.deps.reachable(instance),
        applied: false,
        applied_version: 0,
        apply_ms: 0,
        expected_ms: Math.round((2 * this.deps.rttMs(instance) + 1) * 10) / 10,
        error: '',
      })),
    };
  }

  /**
   * Pushes the version to every node and waits for the targeted ones (retrying an unreachable one until the deadline);
   * the others are told too but not waited for. Every instance is in the result, with what is known of it.
   */
  private async waitForApply(
    version: number,
    targeted: readonly string[],
    timeoutMs: number,
    progress: (p: InstanceApply) => void,
  ): Promise<InstanceApply[]> {
    const { clock, members } = this.deps;
    const deadline = clock.now() + timeoutMs;
    const results = new Map<string, InstanceApply>();
    const attempt = async (instance: string, retry: boolean): Promise<void> => {
      const start = clock.monotonicMs();
      let error = '';
      for (;;) {
        const remaining = deadline - clock.now();
        try {
          const applied = await this.deps.pushApply(instance, version, Math.max(1, Math.min(remaining, 2_000)));
          const entry = {
            instance,
            targeted: retry,
            reachable: true,
            applied: applied >= version,
            applied_version: applied,
            apply_ms: clock.monotonicMs() - start,
            expected_ms: 0,
            error: '',
          };
          results.set(instance, entry);
          progress(entry);
          return;
        } catch (err) {
          error = err instanceof TriadError ? err.detail : String(err);
        }
        if (!retry || clock.now() + 200 >= deadline) break;
        await clock.sleep(200);
      }
      const entry = {
        instance,
        targeted: retry,
        reachable: false,
        applied: false,
        applied_version: 0,
        apply_ms: clock.monotonicMs() - start,
        expected_ms: 0,
        error,
      };
      results.set(instance, entry);
      progress(entry);
    };
    const others = members.filter((m) => !targeted.includes(m)).map((m) => attempt(m, false));
    await Promise.all(targeted.map((m) => attempt(m, true)));
    // Untargeted nodes got the push in parallel; most have answered by now, the rest are reported as not waited for.
    await Promise.race([Promise.all(others), clock.sleep(50)]);
    return members.map(
      (instance) =>
        results.get(instance) ?? {
          instance,
          targeted: false,
          reachable: this.deps.reachable(instance),
          applied: false,
          applied_version: 0,
          apply_ms: 0,
          expected_ms: 0,
          error: 'not waited for (not changed by this version)',
        },
    );
  }
}

async function lockCluster(client: pg.PoolClient, lockWaitMs: number): Promise<void> {
  // Waiting a little serialises concurrent changes instead of failing the second; waiting forever would hide a stuck one.
  await client.query(`SET LOCAL lock_timeout = '${lockWaitMs}ms'`);
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeys.clusterDeployment]);
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') {
      throw new TriadError(
        'LOCK_HELD',
        `another change holds the cluster deployment lock (waited ${lockWaitMs / 1000}s); retry when it finishes`,
      );
    }
    throw err;
  }
}

/** Instances whose layers change, or all of them for cluster-wide changes (frameworks, emergency). */
function targetedInstances(transitions: readonly Transition[], members: readonly string[]): string[] {
  if (transitions.some((t) => t.instance === '*')) return [...members];
  return members.filter((m) => transitions.some((t) => t.instance === m));
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
