import { formatDurationMs, type LayersConfig, type Timing } from '../config/index.js';
import { detectionBudgets, type DesiredStateStore } from '../layer-manager/index.js';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import {
  appendAudit,
  type AuditKey,
  withTransaction,
  type EventRow,
  type MeasurementRow,
  type Queryable,
  type RolloutStore,
  type RunRow,
  type RunStatus,
  type StoragePool,
} from '../storage/index.js';
import { describeStep, parsePlan, type Plan, type SourceFile } from './plan.js';

/** Who asks, as the authorisation edge verified it (the audit actor), and what the client said of its user. */
export interface Caller {
  actor: string;
  onBehalfOf?: string;
  correlationId: string;
}

export interface PlanStepView {
  index: number;
  kind: string;
  description: string;
  /** Activate steps: how long a rollback trigger may take to see a bad layer (window + for: + evaluation). */
  detectionBudget?: { layer: string; triggerId: string; budgetMs: number }[];
  status?: string;
  version?: number;
  actor?: string;
  note?: string;
}

export interface PlanView {
  name: string;
  description?: string;
  sourceFile: string;
  steps: PlanStepView[];
  background: string[];
  templates: string[];
  /** The plan's durations added up as in force (the demo compresses them); approvals and pauses not counted. */
  minimumDurationMs: number;
}

export interface RunView {
  id: number;
  plan: string;
  status: RunStatus;
  stepIndex: number;
  stepCount: number;
  currentStep?: string;
  message?: string;
  failure?: Record<string, unknown>;
  beforeVersion: number;
  abortVersion?: number;
  startedBy: string;
  startedAt: number;
  finishedAt?: number;
  deadline?: number;
  steps: PlanStepView[];
  analysis: { template: string; check: string; phase: string; value?: number; detail: string; at: number }[];
}

export interface RolloutsDeps {
  pool: StoragePool;
  store: RolloutStore<Plan>;
  versions: DesiredStateStore;
  layers: LayersConfig;
  timing: Timing;
  members: readonly string[];
  /** Keys the audit rows the commands write (docs/security.md, Audit). */
  auditKey: AuditKey;
  clock: Clock;
  log: Logger;
}

/**
 * What operators do with rollout plans (the Rollouts edge calls this on any node): each command is a change of rows
 * plus its audit row in one transaction; the leader's executor acts on the rows on its next tick.
 */
export function createRollouts(deps: RolloutsDeps) {
  const { pool, store, clock, timing } = deps;

  const audit = (
    client: Parameters<typeof appendAudit>[0],
    caller: Caller,
    command: string,
    args: Record<string, unknown>,
    outcome: string,
    reason?: string,
  ) =>
    appendAudit(client, deps.auditKey, {
      actor: caller.actor,
      on_behalf_of: caller.onBehalfOf ?? null,
      command,
      args,
      reason: reason ?? null,
      correlation_id: caller.correlationId,
      outcome,
      at: new Date(clock.now()),
    });

  const planView = (plan: Plan, sourceFile: string): PlanView => ({
    name: plan.name,
    ...(plan.description ? { description: plan.description } : {}),
    sourceFile,
    background: plan.background,
    templates: Object.keys(plan.templates),
    steps: plan.steps.map((s, index) => ({
      index,
      kind: s.kind,
      description: describeStep(
        s,
        (ms) =>
          `${formatDurationMs(ms)}${timing.duration(ms) !== ms ? ` (${formatDurationMs(timing.duration(ms))} here)` : ''}`,
      ),
      ...(s.kind === 'activate'
        ? {
            detectionBudget: s.layers.flatMap((layer) =>
              detectionBudgets(layer, deps.layers, timing).map((b) => ({
                layer,
                triggerId: b.triggerId,
                budgetMs: b.budgetMs,
              })),
            ),
          }
        : {}),
    })),
    minimumDurationMs: plan.steps.reduce(
      (sum, s) =>
        sum +
        (s.kind === 'wait' || (s.kind === 'pause' && s.forMs) || (s.kind === 'analysis' && s.forMs)
          ? timing.duration((s as { forMs: number }).forMs)
          : 0),
      0,
    ),
  });

  const runView = async (db: Queryable, run: RunRow<Plan>): Promise<RunView> => {
    const [steps, measurements] = await Promise.all([store.steps(db, run.id), store.measurements(db, run.id)]);
    const latest = new Map<string, RunView['analysis'][number]>();
    for (const m of measurements)
      latest.set(`${m.template}/${m.check}`, {
        template: m.template,
        check: m.check,
        phase: m.phase,
        ...(m.value !== undefined ? { value: m.value } : {}),
        detail: m.detail,
        at: m.measuredAt,
      });
    const current = run.plan.steps[run.stepIndex];
    return {
      id: run.id,
      plan: run.planName,
      status: run.status,
      stepIndex: run.stepIndex,
      stepCount: run.plan.steps.length,
      ...(current && run.status !== 'completed' ? { currentStep: describeStep(current, formatDurationMs) } : {}),
      ...(run.message ? { message: run.message } : {}),
      ...(run.failure ? { failure: run.failure } : {}),
      beforeVersion: run.beforeVersion,
      ...(run.abortVersion !== undefined ? { abortVersion: run.abortVersion } : {}),
      startedBy: run.startedBy,
      startedAt: run.startedAt,
      ...(run.finishedAt !== undefined ? { finishedAt: run.finishedAt } : {}),
      ...(run.stepDeadline !== undefined ? { deadline: run.stepDeadline } : {}),
      steps: run.plan.steps.map((s, index) => {
        const row = steps.find((r) => r.stepIndex === index);
        return {
          index,
          kind: s.kind,
          description: describeStep(s, formatDurationMs),
          status: row?.status ?? (index < run.stepIndex ? 'completed' : 'pending'),
          ...(row?.version !== undefined ? { version: row.version } : {}),
          ...(row?.actor ? { actor: row.actor } : {}),
          ...(row?.note ? { note: row.note } : {}),
        };
      }),
      analysis: [...latest.values()],
    };
  };

  /** The newest run of a plan, locked for the rest of the transaction; NOT_FOUND naming what exists otherwise. */
  const lockedRun = async (client: Queryable, name: string): Promise<RunRow<Plan>> => {
    const run = await store.latestRun(client, name, true);
    if (run) return run;
    if (!(await store.plan(client, name)))
      throw new TriadError(
        'NOT_FOUND',
        `no rollout plan "${name}" (triad rollout list; triad rollout create -f plan.yaml)`,
      );
    throw new TriadError('INPUT_INVALID', `rollout ${name} has never been started (triad rollout start ${name})`);
  };

  const refuse = (run: RunRow<Plan>, what: string): never => {
    throw new TriadError(
      'INPUT_INVALID',
      `rollout ${run.planName} #${run.id} is ${run.status.replace('_', ' ')}${run.status === 'waiting_approval' ? '' : ''}: cannot ${what}`,
    );
  };

  const addEvent = (
    client: Queryable,
    run: RunRow<Plan>,
    kind: string,
    message: string,
    data: Record<string, unknown> = {},
  ) => store.addEvent(client, { runId: run.id, kind, stepIndex: run.stepIndex, message, data, at: clock.now() });

  /** Ends the current step on an operator's word (promote, approve) and moves the run to the next. */
  const finishStepFor = async (
    client: Queryable,
    run: RunRow<Plan>,
    caller: Caller,
    note: string,
    status: 'completed' | 'skipped',
  ) => {
    const now = clock.now();
    const step = run.plan.steps[run.stepIndex];
    const last = run.stepIndex + 1 >= run.plan.steps.length;
    await store.saveStep(client, {
      runId: run.id,
      stepIndex: run.stepIndex,
      kind: step?.kind ?? 'unknown',
      status,
      version: undefined,
      actor: caller.actor,
      note,
      startedAt: run.stepStartedAt ?? now,
      finishedAt: now,
    });
    await store.updateRun(client, run.id, {
      status: last ? 'completed' : 'running',
      stepIndex: run.stepIndex + 1,
      stepStartedAt: undefined,
      stepDeadline: undefined,
      message: undefined,
      ...(last ? { finishedAt: now } : {}),
    });
    await addEvent(
      client,
      run,
      'step_completed',
      `step ${run.stepIndex + 1}/${run.plan.steps.length} ${status} by ${caller.actor}: ${note}`,
      {
        step: run.stepIndex,
        actor: caller.actor,
      },
    );
    if (last) await addEvent(client, run, 'completed', `rollout ${run.planName} #${run.id} completed`);
  };

  return {
    /** Validates a plan and its templates and stores it (replacing one of the same name when no run is under way). */
    async create(plan: SourceFile, templates: readonly SourceFile[], caller: Caller): Promise<PlanView> {
      const parsed = parsePlan(plan, templates, deps.members);
      await withTransaction(pool, async (client) => {
        const latest = await store.latestRun(client, parsed.name, true);
        if (latest && ['running', 'paused', 'waiting_approval', 'aborting'].includes(latest.status))
          throw new TriadError(
            'INPUT_INVALID',
            `rollout ${parsed.name} #${latest.id} is ${latest.status}: abort it or let it finish before replacing the plan`,
          );
        await store.savePlan(client, {
          name: parsed.name,
          plan: parsed,
          sourceFile: plan.file,
          createdBy: caller.actor,
          at: clock.now(),
        });
        await audit(
          client,
          caller,
          `triad rollout create -f ${plan.file}`,
          { name: parsed.name, steps: parsed.steps.length },
          'stored',
        );
      });
      return planView(parsed, plan.file);
    },
    async start(name: string, caller: Caller): Promise<RunView> {
      return withTransaction(pool, async (client) => {
        const stored = await store.plan(client, name);
        if (!stored) throw new TriadError('NOT_FOUND', `no rollout plan "${name}" (triad rollout create -f plan.yaml)`);
        const latest = await store.latestRun(client, name, true);
        if (latest && ['running', 'paused', 'waiting_approval', 'aborting'].includes(latest.status))
          throw new TriadError(
            'INPUT_INVALID',
            `rollout ${name} #${latest.id} is already ${latest.status.replace('_', ' ')}`,
          );
        const before = await deps.versions.latest(client);
        const id = await store.insertRun(client, {
          planName: name,
          plan: stored.plan,
          beforeVersion: before.version,
          startedBy: caller.actor,
          at: clock.now(),
        });
        const run = (await store.run(client, id)) as RunRow<Plan>;
        await addEvent(
          client,
          run,
          'started',
          `rollout ${name} #${id} started by ${caller.actor} from v${before.version}`,
          { before_version: before.version },
        );
        await audit(client, caller, `triad rollout start ${name}`, { name, run_id: id }, `run #${id} started`);
        return runView(client, run);
      });
    },
    async status(name: string): Promise<RunView> {
      const run = await store.latestRun(pool, name);
      if (!run) {
        if (!(await store.plan(pool, name)))
          throw new TriadError('NOT_FOUND', `no rollout plan "${name}" (triad rollout list)`);
        throw new TriadError('NOT_FOUND', `rollout ${name} has never been started (triad rollout start ${name})`);
      }
      return runView(pool, run);
    },
    async list(): Promise<{ plan: PlanView; run?: RunView }[]> {
      const plans = await store.plans(pool);
      return Promise.all(
        plans.map(async (p) => {
          const run = await store.latestRun(pool, p.name);
          return { plan: planView(p.plan, p.sourceFile), ...(run ? { run: await runView(pool, run) } : {}) };
        }),
      );
    },
    async history(name: string): Promise<{ runs: RunView[]; events: EventRow[] }> {
      const runs = await store.runs(pool, name, 20);
      if (runs.length === 0 && !(await store.plan(pool, name)))
        throw new TriadError('NOT_FOUND', `no rollout plan "${name}"`);
      const events = (await Promise.all(runs.map((r) => store.events(pool, r.id)))).flat().sort((a, b) => a.id - b.id);
      return { runs: await Promise.all(runs.map((r) => runView(pool, r))), events };
    },
    /** Every stored measurement of a plan's newest run, oldest first (the last 200 per check): analysis over time. */
    async measurements(name: string): Promise<{ runId?: number; measurements: MeasurementRow[] }> {
      const run = await store.latestRun(pool, name);
      if (!run) {
        if (!(await store.plan(pool, name))) throw new TriadError('NOT_FOUND', `no rollout plan "${name}"`);
        return { measurements: [] };
      }
      return { runId: run.id, measurements: await store.measurements(pool, run.id) };
    },
    /** Run events of every plan after `afterId`, oldest first; without one, only where the feed ends now. */
    async eventsAfter(afterId: number | undefined, limit = 100): Promise<{ lastId: number; events: EventRow[] }> {
      if (afterId === undefined) {
        const { rows } = await pool.query<{ id: string }>('SELECT coalesce(max(id), 0) AS id FROM rollout_events');
        return { lastId: Number(rows[0]?.id ?? 0), events: [] };
      }
      const events = await store.eventsAfter(pool, afterId, limit);
      return { lastId: events.at(-1)?.id ?? afterId, events };
    },
    /** Resumes a paused run; skips the current wait, pause or analysis; `full` skips every one left. */
    async promote(name: string, full: boolean, caller: Caller, reason?: string): Promise<RunView> {
      return withTransaction(pool, async (client) => {
        const run = await lockedRun(client, name);
        if (!['running', 'paused', 'waiting_approval'].includes(run.status)) refuse(run, 'promote');
        const step = run.plan.steps[run.stepIndex];
        if (run.status === 'waiting_approval' && !full)
          throw new TriadError(
            'INPUT_INVALID',
            `rollout ${name} is waiting for approval: triad rollout approve ${name} --reason "…" (records who and why)`,
          );
        if (full) await store.updateRun(client, run.id, { fullPromote: true });
        if (step && step.kind !== 'activate' && (run.status !== 'paused' || step.kind === 'pause' || full)) {
          await finishStepFor(client, run, caller, full ? 'promote --full' : 'promoted', 'skipped');
        } else {
          // Paused inside another step (gates, an inconclusive analysis): go on, counting the step's analysis afresh.
          await store.updateRun(client, run.id, { status: 'running', message: undefined, stepStartedAt: clock.now() });
          await addEvent(client, run, 'resumed', `resumed by ${caller.actor}`);
        }
        await audit(
          client,
          caller,
          `triad rollout promote ${name}${full ? ' --full' : ''}`,
          { name, run_id: run.id, step: run.stepIndex, full },
          'promoted',
          reason,
        );
        return runView(client, (await store.run(client, run.id)) as RunRow<Plan>);
      });
    },
    async approve(name: string, reason: string, caller: Caller): Promise<RunView> {
      const why = checkReason(reason, 'approve');
      return withTransaction(pool, async (client) => {
        const run = await lockedRun(client, name);
        if (run.status !== 'waiting_approval') refuse(run, 'approve (it is not waiting for approval)');
        await finishStepFor(client, run, caller, `approved: ${why}`, 'completed');
        await audit(
          client,
          caller,
          `triad rollout approve ${name}`,
          { name, run_id: run.id, step: run.stepIndex },
          'approved',
          why,
        );
        return runView(client, (await store.run(client, run.id)) as RunRow<Plan>);
      });
    },
    async pause(name: string, reason: string | undefined, caller: Caller): Promise<RunView> {
      return withTransaction(pool, async (client) => {
        const run = await lockedRun(client, name);
        if (run.status !== 'running') refuse(run, 'pause');
        const message = `paused by ${caller.actor}${reason ? `: ${reason}` : ''}: promote to go on`;
        await store.updateRun(client, run.id, { status: 'paused', message });
        await addEvent(client, run, 'paused', message);
        await audit(client, caller, `triad rollout pause ${name}`, { name, run_id: run.id }, 'paused', reason);
        return runView(client, (await store.run(client, run.id)) as RunRow<Plan>);
      });
    },
    async abort(name: string, reason: string, caller: Caller): Promise<RunView> {
      const why = checkReason(reason, 'abort');
      return withTransaction(pool, async (client) => {
        const run = await lockedRun(client, name);
        if (!['running', 'paused', 'waiting_approval'].includes(run.status)) refuse(run, 'abort');
        const message = `aborted by ${caller.actor}: ${why}`;
        await store.updateRun(client, run.id, {
          status: 'aborting',
          message,
          failure: { reason: message, check: 'operator', actor: caller.actor },
        });
        await addEvent(client, run, 'aborting', message);
        await audit(client, caller, `triad rollout abort ${name}`, { name, run_id: run.id }, 'aborting', why);
        return runView(client, (await store.run(client, run.id)) as RunRow<Plan>);
      });
    },
    /** A new run of an aborted plan, from its first step and the version in force now. */
    async retry(name: string, caller: Caller, reason?: string): Promise<RunView> {
      return withTransaction(pool, async (client) => {
        const run = await lockedRun(client, name);
        if (run.status !== 'aborted') refuse(run, 'retry (only an aborted run is retried)');
        const before = await deps.versions.latest(client);
        const id = await store.insertRun(client, {
          planName: name,
          plan: run.plan,
          beforeVersion: before.version,
          startedBy: caller.actor,
          at: clock.now(),
        });
        const next = (await store.run(client, id)) as RunRow<Plan>;
        await addEvent(
          client,
          next,
          'started',
          `rollout ${name} #${id} started by ${caller.actor} (retry of #${run.id}) from v${before.version}`,
          { before_version: before.version, retry_of: run.id },
        );
        await audit(
          client,
          caller,
          `triad rollout retry ${name}`,
          { name, run_id: id, retry_of: run.id },
          `run #${id} started`,
          reason,
        );
        return runView(client, next);
      });
    },
  };
}

export type Rollouts = ReturnType<typeof createRollouts>;

function checkReason(reason: string, command: string): string {
  const why = reason.trim();
  if (!why) throw new TriadError('USAGE', `rollout ${command} needs --reason "…": it is audited with who and why`);
  if (why.length > 500) throw new TriadError('INPUT_INVALID', `--reason is ${why.length} characters; 500 at most`);
  return why;
}
