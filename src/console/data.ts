import { layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import type { EpochOutcome } from '../consensus/index.js';
import type { ReadinessReport } from '../health/index.js';
import {
  diffStates,
  GateRefusedError,
  type InstanceView,
  type Layers,
  type MutationInput,
  type MutationResult,
} from '../layer-manager/index.js';
import type { Caller, Rollouts, RunView } from '../rollouts/index.js';
import type { LayerFigure } from '../runtime/index.js';
import type { AlertRow } from '../storage/index.js';
import { newTraceId, TriadError } from '../shared/index.js';

/** What the console's pages read and do, in domain terms; routes.ts turns it into HTTP. */
export interface ConsoleApi {
  overview(): Promise<unknown>;
  matrix(): Promise<unknown>;
  gates(layer: string, instance: string, actor: string): Promise<unknown>;
  consensus(): Promise<unknown>;
  history(limit: number): Promise<unknown>;
  diff(from: number, to: number): Promise<unknown>;
  audit(): Promise<unknown>;
  alerts(): Promise<unknown>;
  mutate(input: MutationInput, options: { actor: string; reason: string; dryRun: boolean }): Promise<MutationResult>;
  rollouts(): Promise<unknown>;
  rollout(name: string): Promise<unknown>;
  rolloutAction(
    name: string,
    action: RolloutAction,
    options: { actor: string; reason: string; full: boolean },
  ): Promise<RunView>;
}

/** What an operator may do to a run from the console: the CLI's commands of the same names. */
export const rolloutActions = ['promote', 'approve', 'pause', 'abort', 'retry'] as const;
export type RolloutAction = (typeof rolloutActions)[number];

/** The rollouts domain API the console reads and acts through (the one the Rollouts gRPC edge calls). */
export type ConsoleRollouts = Pick<
  Rollouts,
  'list' | 'history' | 'measurements' | 'eventsAfter' | 'promote' | 'approve' | 'pause' | 'abort' | 'retry'
>;

export interface ConsoleDataDeps {
  instance: string;
  members: readonly string[];
  layersConfig: LayersConfig;
  topology: { label: string; edges: ReadonlyArray<readonly [string, string]> };
  layers: Pick<Layers, 'parse' | 'mutate' | 'checkHealth' | 'history' | 'latest' | 'verifyAudit'>;
  lastOutcome: () => EpochOutcome | undefined;
  figures: (outcome: EpochOutcome | undefined) => { local: LayerFigure[]; agreed: LayerFigure[] };
  readiness: () => ReadinessReport;
  /** What each member has applied, as it answers (this node's own without a call). */
  instanceView: (instance: string) => Promise<InstanceView>;
  recentAlerts: (limit: number) => Promise<AlertRow[]>;
  rollouts: ConsoleRollouts;
}

/** How many epochs the consensus page charts: a few minutes at the default interval. */
const epochsKept = 30;

/**
 * The console's reads and its one write, on the same domain calls the Admin service makes (checkHealth, history,
 * verifyAudit, mutate): a change from the console is audited exactly like one from the CLI, with the session's
 * identity as actor.
 */
export function createConsoleData(deps: ConsoleDataDeps): ConsoleApi & { recordEpoch(outcome: EpochOutcome): void } {
  const epochs: EpochOutcome[] = [];
  const { members } = deps;
  return {
    recordEpoch(outcome) {
      epochs.push(outcome);
      if (epochs.length > epochsKept) epochs.shift();
    },
    async overview() {
      const last = deps.lastOutcome();
      const { agreed } = deps.figures(last);
      const health = await deps.layers.checkHealth([]);
      const reported = agreed.filter((l) => l.reportingInstances > 0 && l.amplification !== undefined);
      return {
        instance: deps.instance,
        // The plan's top row: total cascade is the product of the agreed amplifications; burden is per hour × 168.
        totalCascade: reported.length > 0 ? reported.reduce((p, l) => p * (l.amplification ?? 1), 1) : null,
        burdenSavedHoursPerWeek: agreed.reduce((sum, l) => sum + l.burdenRate, 0) * 168,
        consensusError: last?.error ?? null,
        consensusConverged: last?.converged ?? null,
        lastEpochAtMs: last?.startedAtMs ?? null,
        healthy: health.healthy,
        ready: deps.readiness(),
        unreachable: health.unreachable,
        desiredVersion: health.desiredVersion,
        layers: deps.layersConfig.layers.map((layer) => {
          const figure = agreed.find((f) => f.layer === layer.id);
          const h = health.layers.find((l) => l.layer === layer.id);
          return {
            layer: layer.id,
            name: layer.name,
            amplification: figure?.amplification ?? null,
            expected: layer.amplification ? layer.amplification.expected : null,
            band: h?.band ?? null,
            status: h?.status ?? 'OFF',
            errorRate: figure?.errorRate ?? null,
            burdenHoursPerWeek: (figure?.burdenRate ?? 0) * 168,
            reportingInstances: figure?.reportingInstances ?? 0,
          };
        }),
      };
    },
    async matrix() {
      const [latest, health, views] = await Promise.all([
        deps.layers.latest(),
        deps.layers.checkHealth([]),
        Promise.all(members.map((m) => deps.instanceView(m))),
      ]);
      return {
        desiredVersion: latest.version,
        emergencyDisabled: latest.state.emergency_disabled,
        instances: views.map((v) => ({
          instance: v.instance,
          reachable: v.reachable,
          appliedVersion: v.appliedVersion,
        })),
        layers: deps.layersConfig.layers.map((layer) => {
          const h = health.layers.find((l) => l.layer === layer.id);
          return {
            layer: layer.id,
            name: layer.name,
            status: h?.status ?? 'OFF',
            cells: views.map((v) => {
              const setting = latest.state.instances[v.instance]?.[layer.id];
              const judged = h?.instances.find((i) => i.instance === v.instance);
              return {
                instance: v.instance,
                desired: setting?.enabled === true && !latest.state.emergency_disabled,
                percentage: setting?.percentage ?? 0,
                applied: v.appliedLayers.includes(layer.id),
                appliedVersion: v.appliedVersion,
                status: judged?.status ?? (setting?.enabled ? 'UNKNOWN' : 'OFF'),
                problems: judged?.problems ?? [],
              };
            }),
          };
        }),
      };
    },
    /**
     * A cell's checks. `current`: where the layer should run, check-health's own judgement of that instance on the
     * last epoch's figures (measured value, threshold, samples, verdict, and when) — the same per-instance rows
     * `triad check-health --layers X` prints, recomputed on each read rather than stored. `checks`: the dry run of
     * activating the layer there, which evaluates every gate and writes nothing (no version, no audit row), exactly as
     * `activate-layers --dry-run` does; for an active cell it has little left to check.
     */
    async gates(layer, instance, actor) {
      if (!members.includes(instance))
        throw new TriadError('INPUT_INVALID', `unknown instance "${instance}" (instances: ${members.join(', ')})`);
      if (!(layerIds as readonly string[]).includes(layer))
        throw new TriadError('INPUT_INVALID', `unknown layer "${layer}" (layers: ${layerIds.join(', ')})`);
      const health = await deps.layers.checkHealth([layer as LayerId]);
      const judged = health.layers[0]?.instances.find((i) => i.instance === instance);
      const current = judged
        ? {
            status: judged.status,
            atMs: judged.atMs ?? null,
            problems: judged.problems,
            checks: judged.checks,
          }
        : null;
      try {
        const result = await deps.layers.mutate(
          deps.layers.parse({ kind: 'activate', layers: [layer], instances: [instance] }),
          {
            actor,
            correlationId: newTraceId(),
            dryRun: true,
          },
        );
        return {
          layer,
          instance,
          current,
          checks: result.plan.checks,
          wouldPass: true,
          transitions: result.plan.transitions,
        };
      } catch (err) {
        if (err instanceof GateRefusedError)
          return { layer, instance, current, checks: (err.details as { checks: unknown }).checks, wouldPass: false };
        throw err;
      }
    },
    consensus() {
      const last = deps.lastOutcome();
      return Promise.resolve({
        topology: deps.topology,
        members,
        last: last ?? null,
        epochs: epochs.map((e) => ({
          epochId: e.epochId,
          atMs: e.startedAtMs,
          timeSeconds: e.timeSeconds,
          error: e.error,
          converged: e.converged,
          rounds: e.rounds,
        })),
      });
    },
    async history(limit) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
        throw new TriadError('INPUT_INVALID', `limit must be from 1 to 1000, received ${limit}`);
      const entries = await deps.layers.history(limit);
      return {
        versions: entries.map(({ row, changes }) => ({
          version: row.version,
          label: row.label,
          createdBy: row.createdBy,
          onBehalfOf: row.onBehalfOf,
          command: row.command,
          reason: row.reason,
          correlationId: row.correlationId,
          createdAtMs: row.createdAt,
          changes,
        })),
      };
    },
    async diff(from, to) {
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < 0)
        throw new TriadError('INPUT_INVALID', `from and to must be version numbers, received ${from} and ${to}`);
      const entries = await deps.layers.history(1_000);
      const stateOf = (version: number) => {
        const found = entries.find((e) => e.row.version === version);
        if (!found) throw new TriadError('NOT_FOUND', `version ${version} is not among the newest 1000`);
        return found.row.state;
      };
      return { from, to, changes: diffStates(stateOf(from), stateOf(to), members) };
    },
    async audit() {
      return deps.layers.verifyAudit();
    },
    async alerts() {
      const rows = await deps.recentAlerts(100);
      return {
        alerts: rows.map((r) => ({ ...r, firedAtMs: r.firedAt.getTime() })),
        // A rollback fired by a trigger is "active" while the layer it turned off is still off in the latest version.
        activeRollbacks: await activeRollbacks(rows, deps.layers),
      };
    },
    mutate(input, options) {
      return deps.layers.mutate(deps.layers.parse(input), {
        actor: options.actor,
        reason: options.reason,
        dryRun: options.dryRun,
        correlationId: newTraceId(),
      });
    },
    async rollouts() {
      const list = await deps.rollouts.list();
      return {
        plans: list.map(({ plan, run }) => ({
          name: plan.name,
          description: plan.description ?? null,
          steps: plan.steps.length,
          minimumDurationMs: plan.minimumDurationMs,
          run: run ? { ...run, waitingFor: waitingFor(run) } : null,
        })),
      };
    },
    async rollout(name) {
      const [history, analysis] = await Promise.all([deps.rollouts.history(name), deps.rollouts.measurements(name)]);
      const run = history.runs[0];
      return {
        name,
        run: run ? { ...run, waitingFor: waitingFor(run) } : null,
        // Earlier runs, newest first, for the record (an aborted run and its retry).
        earlierRuns: history.runs.slice(1).map((r) => ({ id: r.id, status: r.status, startedAt: r.startedAt })),
        measurements: analysis.measurements.map((m) => ({
          stepIndex: m.stepIndex,
          template: m.template,
          check: m.check,
          phase: m.phase,
          value: m.value ?? null,
          detail: m.detail,
          at: m.measuredAt,
        })),
        events: history.events
          .filter((e) => run === undefined || e.runId === run.id)
          .map((e) => ({ id: e.id, kind: e.kind, stepIndex: e.stepIndex ?? null, message: e.message, at: e.at })),
      };
    },
    rolloutAction(name, action, options) {
      const caller: Caller = { actor: options.actor, correlationId: newTraceId() };
      switch (action) {
        case 'promote':
          return deps.rollouts.promote(name, options.full, caller, options.reason);
        case 'approve':
          return deps.rollouts.approve(name, options.reason, caller);
        case 'pause':
          return deps.rollouts.pause(name, options.reason, caller);
        case 'abort':
          return deps.rollouts.abort(name, options.reason, caller);
        case 'retry':
          return deps.rollouts.retry(name, caller, options.reason);
      }
    },
  };
}

/**
 * What a run waits for, in words the page shows: a human (approval, a pause), a deadline (a wait or a timed step), or
 * nothing (it is working, or over).
 */
export function waitingFor(run: RunView): { kind: 'approval' | 'promote' | 'deadline' | 'none'; text: string } {
  if (run.status === 'waiting_approval')
    return { kind: 'approval', text: `approval of step ${run.stepIndex + 1}: ${run.currentStep ?? ''}`.trim() };
  if (run.status === 'paused') return { kind: 'promote', text: run.message ?? 'paused: promote to go on' };
  if (run.status === 'running' && run.deadline !== undefined)
    return { kind: 'deadline', text: `step ${run.stepIndex + 1} until ${new Date(run.deadline).toISOString()}` };
  return { kind: 'none', text: run.status === 'running' || run.status === 'aborting' ? 'working' : run.status };
}

async function activeRollbacks(rows: readonly AlertRow[], layers: Pick<Layers, 'latest'>): Promise<unknown[]> {
  const rollbacks = rows.filter((r) => r.action.startsWith('deactivated') && r.layer && r.instance);
  if (rollbacks.length === 0) return [];
  const latest = await layers.latest();
  return rollbacks.filter((r) => latest.state.instances[r.instance!]?.[r.layer as LayerId]?.enabled !== true);
}
