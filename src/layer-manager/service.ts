import type { LayerId, LayersConfig, Timing } from '../config/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import {
  appendAudit,
  lockClusterDeployment,
  notify,
  withTransaction,
  type AuditKey,
  type Queryable,
  type StoragePool,
} from '../storage/index.js';
import { waitForApply } from './apply-wait.js';
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
import {
  checkMutation,
  checkMutationOptions,
  describeMutation,
  type CheckedOptions,
  type Mutation,
  type MutationOptions,
} from './mutation-input.js';
import type { MutationPlan, MutationProgress, MutationResult } from './mutation-result.js';
import type { DesiredStateStore, VersionRow } from './state-store.js';
import { detectionBudgets } from './triggers.js';

/** NOTIFY channel every node LISTENs on; the payload is the new version number. */
export const desiredStateChannel = 'triad_desired_state';

export interface LayerManagerDeps {
  pool: StoragePool;
  store: DesiredStateStore;
  /** Keys the audit rows written here (and so seals each new version into the chain). */
  auditKey: AuditKey;
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
  /** How long a change waits for the cluster lock (storage's one lock policy by default). */
  lockWaitMs?: number;
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
      { details: { checks: allChecks } },
    );
  }
}

interface Prepared {
  plan: MutationPlan;
  targeted: string[];
}

/**
 * Desired-state mutations (DESIGN §2): one new version per change, in one transaction under the cluster deployment
 * lock, with its audit row; gates before activations; then push the version to every node and wait for the ones it
 * changes. Break-glass paths (emergency-disable, framework switches) never consult gates or consensus. Operators (the
 * Admin edge), automatic rollback and rollout plans all change desired state through mutate().
 */
export class LayerManager {
  constructor(private readonly deps: LayerManagerDeps) {}

  async mutate(mutation: Mutation, options: MutationOptions & MutationProgress): Promise<MutationResult> {
    const started = this.deps.clock.monotonicMs();
    const checked = checkMutation(mutation, { config: this.deps.layers, instances: this.deps.members });
    const opts = checkMutationOptions(checked, options);
    const prepared = await this.commit(checked, opts);
    const elapsed = () => this.deps.clock.monotonicMs() - started;
    if (opts.dryRun || prepared.plan.afterVersion === prepared.plan.beforeVersion) {
      return { plan: prepared.plan, instances: prepared.plan.instances, complete: true, durationMs: elapsed() };
    }
    options.onCommitted?.(prepared.plan);
    const instances = await waitForApply(
      this.deps,
      prepared.plan.afterVersion,
      prepared.targeted,
      opts.timeoutMs,
      (p) => options.onProgress?.(p),
    );
    const complete = instances.filter((i) => i.targeted).every((i) => i.applied);
    return { plan: prepared.plan, instances, complete, durationMs: elapsed() };
  }

  private async commit(mutation: Mutation, options: CheckedOptions): Promise<Prepared> {
    const { store, clock, pool } = this.deps;
    let refusal: GateRefusedError | undefined;
    const prepared = await withTransaction(pool, async (client) => {
      await lockClusterDeployment(client, this.deps.lockWaitMs);
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
      const changes = options.label !== undefined || JSON.stringify(after) !== JSON.stringify(latest.state);
      const afterVersion = changes ? latest.version + 1 : latest.version;
      const plan = this.plan({
        command,
        before: latest.version,
        after: afterVersion,
        transitions,
        checks,
        override,
        options,
      });
      const audit = {
        actor: options.actor,
        on_behalf_of: options.onBehalfOf ?? null,
        command,
        args: { mutation, dry_run: options.dryRun, force: options.force, label: options.label ?? null },
        reason: options.reason ?? null,
        correlation_id: options.correlationId,
        before_version: latest.version,
        override,
        undo_command: plan.undoCommand ?? null,
        at: new Date(clock.now()),
      };
      if (failed.length > 0 && !options.force) {
        refusal = new GateRefusedError(failed, checks);
        // A refused attempt is audited too (it is an admin action), but writes no version.
        if (!options.dryRun)
          await appendAudit(client, this.deps.auditKey, {
            ...audit,
            after_version: null,
            outcome: 'refused: gates',
            undo_command: null,
          });
        return { plan, targeted: [] };
      }
      if (options.dryRun || !changes) return { plan, targeted: [] };
      // The version's hash goes into its audit row, under the row's HMAC: nodes check it before they apply the version.
      const versionHash = await store.insert(client, {
        version: afterVersion,
        label: options.label ?? null,
        state: after,
        createdBy: options.actor,
        onBehalfOf: options.onBehalfOf ?? null,
        command,
        reason: options.reason ?? null,
        correlationId: options.correlationId,
        createdAt: clock.now(),
      });
      await appendAudit(client, this.deps.auditKey, {
        ...audit,
        after_version: afterVersion,
        version_hash: versionHash,
        outcome: override ? 'applied (gates overridden)' : 'applied',
      });
      await notify(client, desiredStateChannel, String(afterVersion));
      return { plan, targeted: targetedInstances(transitions, this.deps.members) };
    });
    if (refusal) throw refusal;
    if (!options.dryRun && prepared.plan.afterVersion > prepared.plan.beforeVersion) {
      for (const t of prepared.plan.transitions) {
        if (t.action === 'deactivate' && mutation.kind !== 'activate')
          this.deps.onRollback(t.subject as LayerId, options.rollbackReason ?? 'manual');
      }
      this.deps.log.info(
        {
          operation: 'mutation',
          command: prepared.plan.command,
          version: prepared.plan.afterVersion,
          override: prepared.plan.override,
        },
        'desired state changed',
      );
    }
    return prepared;
  }

  private async nextState(client: Queryable, m: Mutation, latest: VersionRow): Promise<DesiredState> {
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
    client: Queryable,
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
    options: CheckedOptions;
  }): MutationPlan {
    const targeted = targetedInstances(p.transitions, this.deps.members);
    const activated = [...new Set(p.transitions.filter((t) => t.action === 'activate').map((t) => t.subject))];
    return {
      command: p.command,
      beforeVersion: p.before,
      afterVersion: p.after,
      transitions: p.transitions,
      checks: p.checks,
      override: p.override,
      ...(p.after > p.before ? { undoCommand: `triad rollback --to-version ${p.before}` } : {}),
      dryRun: p.options.dryRun,
      correlationId: p.options.correlationId,
      ...(p.options.label ? { label: p.options.label } : {}),
      detectionBudgets: (activated as LayerId[]).flatMap((layer) =>
        detectionBudgets(layer, this.deps.layers, this.deps.timing).map((b) => ({ layer, ...b })),
      ),
      // Applying is a fetch of the version plus an in-memory switch: the round trip dominates what an instance takes.
      instances: this.deps.members.map((instance) => ({
        instance,
        targeted: targeted.includes(instance),
        reachable: this.deps.reachable(instance),
        applied: false,
        appliedVersion: 0,
        applyMs: 0,
        expectedMs: Math.round((2 * this.deps.rttMs(instance) + 1) * 10) / 10,
      })),
    };
  }
}

/** Instances whose layers change, or all of them for cluster-wide changes (frameworks, emergency). */
function targetedInstances(transitions: readonly Transition[], members: readonly string[]): string[] {
  if (transitions.some((t) => t.instance === '*')) return [...members];
  return members.filter((m) => transitions.some((t) => t.instance === m));
}
