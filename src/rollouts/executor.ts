import { formatDurationMs, type LayerId, type Timing } from '../config/index.js';
import {
  isActive,
  type AgreedFigures,
  type DesiredStateStore,
  type Mutation,
  type MutationOptions,
  type MutationResult,
  type VersionRow,
} from '../layer-manager/index.js';
import { repeatEvery, TriadError, type Clock, type Logger } from '../shared/index.js';
import {
  withTransaction,
  type MeasurementRow,
  type RolloutStore,
  type RunPatch,
  type RunRow,
  type RunStatus,
  type StoragePool,
} from '../storage/index.js';
import { measurePrometheus, measureTriad, tally, verdict, type Measurement } from './analysis.js';
import { describeStep, type AnalysisMetric, type Plan, type PlanStep } from './plan.js';

export interface ExecutorDeps {
  pool: StoragePool;
  store: RolloutStore<Plan>;
  /** desired_state_versions, for the idempotency labels and the latest state. */
  versions: DesiredStateStore;
  /** The layer manager's domain API: the same mutate() operators and automatic rollback use. */
  mutate: (mutation: Mutation, options: MutationOptions) => Promise<MutationResult>;
  agreed: () => AgreedFigures | undefined;
  timing: Pick<Timing, 'duration' | 'windowMs' | 'minSamples' | 'maxSampleAgeMs'>;
  members: readonly string[];
  clock: Clock;
  log: Logger;
  /** Measurements kept per check and run (older ones are deleted). */
  measurementsKept?: number;
  fetch?: typeof fetch;
}

/** Who the audit log and history name for a change a plan made. */
export const rolloutActor = (run: Pick<RunRow<Plan>, 'id' | 'planName'>) =>
  `triad (rollout ${run.planName} #${run.id})`;
/** The idempotency key of a step's version: a label is unique, so a step can never write two versions. */
export const stepLabel = (runId: number, index: number) => `rollout-${runId}-${index}`;
export const abortLabel = (runId: number) => `rollout-${runId}-abort`;

/**
 * The leader's rollout executor: every tick it moves each run under way as far as its stored state allows. Nothing of a
 * run lives in this process — step, deadlines and measurements are rows — so a new leader picks up exactly where the
 * old one stopped. Every state change is a compare-and-set on (status, step): an operator's pause or abort that lands
 * between the read and the write wins, and the executor sees it on its next tick.
 */
export function createExecutor(deps: ExecutorDeps) {
  const { pool, store, clock, log, timing } = deps;
  const keep = deps.measurementsKept ?? 200;
  // How long an activate step keeps asking gates that refuse before it stops for a human: long enough for a window
  // that spans the previous change to turn over.
  const gateWaitMs = Math.max(timing.duration(6 * 3_600_000), 3 * timing.windowMs);

  const event = (run: RunRow<Plan>, kind: string, message: string, data: Record<string, unknown> = {}) =>
    store.addEvent(pool, { runId: run.id, kind, stepIndex: run.stepIndex, message, data, at: clock.now() });

  /** Moves the run on (CAS on its status and step); false when someone else moved it first. */
  const transition = async (
    run: RunRow<Plan>,
    patch: RunPatch,
    ev?: { kind: string; message: string; data?: Record<string, unknown> },
    from: readonly RunStatus[] = [run.status],
  ): Promise<boolean> =>
    withTransaction(pool, async (client) => {
      const moved = await store.updateRun(client, run.id, patch, { status: from, stepIndex: run.stepIndex });
      if (moved && ev)
        await store.addEvent(client, {
          runId: run.id,
          kind: ev.kind,
          stepIndex: run.stepIndex,
          message: ev.message,
          data: ev.data ?? {},
          at: clock.now(),
        });
      return moved;
    });

  const completeStep = async (
    run: RunRow<Plan>,
    step: PlanStep,
    extra: { version?: number; note?: string; skipped?: boolean } = {},
  ) => {
    const now = clock.now();
    const last = run.stepIndex + 1 >= run.plan.steps.length;
    await withTransaction(pool, async (client) => {
      const moved = await store.updateRun(
        client,
        run.id,
        {
          stepIndex: run.stepIndex + 1,
          stepStartedAt: undefined,
          stepDeadline: undefined,
          message: undefined,
          ...(last ? { status: 'completed' as const, finishedAt: now } : {}),
        },
        { status: ['running'], stepIndex: run.stepIndex },
      );
      if (!moved) return;
      await store.saveStep(client, {
        runId: run.id,
        stepIndex: run.stepIndex,
        kind: step.kind,
        status: extra.skipped ? 'skipped' : 'completed',
        version: extra.version,
        actor: undefined,
        note: extra.note,
        startedAt: run.stepStartedAt ?? now,
        finishedAt: now,
      });
      const what = describeStep(step, formatDurationMs);
      await store.addEvent(client, {
        runId: run.id,
        kind: 'step_completed',
        stepIndex: run.stepIndex,
        message: `step ${run.stepIndex + 1}/${run.plan.steps.length} ${extra.skipped ? 'skipped' : 'done'}: ${what}${extra.note ? ` — ${extra.note}` : ''}`,
        data: {
          step: run.stepIndex,
          kind: step.kind,
          ...(extra.version !== undefined ? { version: extra.version } : {}),
        },
        at: now,
      });
      if (last)
        await store.addEvent(client, {
          runId: run.id,
          kind: 'completed',
          stepIndex: run.stepIndex,
          message: `rollout ${run.planName} #${run.id} completed`,
          data: {},
          at: now,
        });
    });
  };

  const abortWith = (
    run: RunRow<Plan>,
    failure: Record<string, unknown> & { reason: string },
    kind: 'aborting' | 'automatic_rollback' = 'aborting',
  ) =>
    transition(
      run,
      { status: 'aborting', failure, message: failure.reason },
      { kind, message: failure.reason, data: failure },
      ['running', 'paused', 'waiting_approval'],
    );

  const pauseWith = (run: RunRow<Plan>, message: string, status: RunStatus = 'paused') =>
    transition(run, { status, message }, { kind: status === 'paused' ? 'paused' : 'waiting_approval', message });

  /** One new version equal to the one before the run (labelled, so a leader dying mid-abort never writes two). */
  const finishAbort = async (run: RunRow<Plan>) => {
    const label = abortLabel(run.id);
    let version = (await deps.versions.byLabel(pool, label))?.version;
    if (version === undefined) {
      const reason = `rollout ${run.planName} #${run.id} aborted: ${run.message ?? 'aborted'}`.slice(0, 500);
      const result = await deps.mutate(
        { kind: 'rollback', to: { version: run.beforeVersion } },
        { actor: rolloutActor(run), reason, label, correlationId: label, timeoutMs: 30_000 },
      );
      version = result.plan.afterVersion;
    }
    await transition(
      run,
      { status: 'aborted', abortVersion: version, finishedAt: clock.now() },
      {
        kind: 'aborted',
        message: `rolled back to the pre-run state (v${run.beforeVersion}) as v${version}: ${run.message ?? ''}`,
        data: { before_version: run.beforeVersion, abort_version: version, failure: run.failure ?? {} },
      },
      ['aborting'],
    );
    log.warn(
      { operation: 'rollout', run_id: run.id, plan: run.planName, version, reason: run.message },
      'rollout aborted and rolled back',
    );
  };

  /** Layers the run put on that are no longer on where it put them: a rollback trigger (or a person) took them down. */
  const drift = (run: RunRow<Plan>, latest: VersionRow): string | undefined => {
    for (const step of run.plan.steps.slice(0, run.stepIndex)) {
      if (step.kind !== 'activate') continue;
      for (const instance of step.instances ?? deps.members)
        for (const layer of step.layers)
          if (!isActive(latest.state, instance, layer))
            return `${layer} on ${instance} was taken down outside the run by v${latest.version} (${latest.createdBy}: ${latest.reason ?? latest.command})`;
    }
    return undefined;
  };

  /** Measures what is due of `templates` and judges the step's tallies; the first verdict that stops the run wins. */
  const analyse = async (
    run: RunRow<Plan>,
    templates: readonly string[],
    latest: VersionRow,
    intervalOverrideMs?: number,
  ): Promise<{
    stop?: { verdict: 'failed' | 'error' | 'inconclusive'; reason: string; data: Record<string, unknown> };
    counts: Map<string, number>;
  }> => {
    const now = clock.now();
    const since = run.stepStartedAt ?? now;
    const rows = (await store.measurements(pool, run.id, { stepIndex: run.stepIndex })).filter(
      (m) => m.stepIndex === run.stepIndex && m.measuredAt >= since,
    );
    const counts = new Map<string, number>();
    for (const name of templates) {
      const template = run.plan.templates[name];
      if (!template) continue;
      for (const metric of template.metrics) {
        const key = `${name}/${metric.name}`;
        const own = rows.filter((m) => m.template === name && m.check === metric.name);
        const last = own.at(-1);
        const intervalMs = intervalOverrideMs ?? timing.duration(metric.interval);
        let measured = own;
        if (!last || now - last.measuredAt >= intervalMs) {
          const m = await measure(metric, latest, now);
          if (m !== 'skip') {
            const row: MeasurementRow = {
              runId: run.id,
              stepIndex: run.stepIndex,
              template: name,
              check: metric.name,
              phase: m.phase,
              value: m.value,
              detail: m.detail,
              measuredAt: now,
            };
            await store.addMeasurement(pool, row, keep);
            measured = [...own, row];
          }
        }
        counts.set(key, measured.length);
        const t = tally(measured);
        const v = verdict(metric, t);
        if (v !== 'running') {
          const limit =
            v === 'failed'
              ? `${t.failed} failed > failureLimit ${metric.failureLimit}`
              : v === 'error'
                ? `${t.consecutiveErrors} consecutive errors > consecutiveErrorLimit ${metric.consecutiveErrorLimit}`
                : `${t.inconclusive} inconclusive > inconclusiveLimit ${metric.inconclusiveLimit}`;
          const phase = v === 'failed' ? 'FAIL' : v === 'error' ? 'ERROR' : 'INCONCLUSIVE';
          return {
            stop: {
              verdict: v,
              reason: `${phase} ${name}/${metric.name}: ${t.last?.detail ?? ''} (${limit})`,
              data: {
                template: name,
                check: metric.name,
                phase,
                value: t.last?.value ?? null,
                threshold: metric.successCondition,
                detail: t.last?.detail ?? '',
              },
            },
            counts,
          };
        }
      }
    }
    return { counts };
  };

  const measure = async (metric: AnalysisMetric, latest: VersionRow, now: number): Promise<Measurement | 'skip'> => {
    try {
      if (metric.provider.prometheus)
        return await measurePrometheus(metric, { timeoutMs: 5_000, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
      return measureTriad(metric, {
        agreed: deps.agreed(),
        now,
        maxSampleAgeMs: timing.maxSampleAgeMs,
        minSamples: timing.minSamples,
        members: deps.members,
        active: (instance, layer: LayerId) => isActive(latest.state, instance, layer),
      });
    } catch (err) {
      return { phase: 'ERROR', detail: `provider failed: ${(err as Error).message}`.slice(0, 300) };
    }
  };

  const stopFor = async (run: RunRow<Plan>, stop: NonNullable<Awaited<ReturnType<typeof analyse>>['stop']>) => {
    if (stop.verdict === 'inconclusive') await pauseWith(run, `${stop.reason}: promote to go on, abort to roll back`);
    else await abortWith(run, { ...stop.data, reason: stop.reason });
  };

  const activateStep = async (run: RunRow<Plan>, step: Extract<PlanStep, { kind: 'activate' }>) => {
    const label = stepLabel(run.id, run.stepIndex);
    const done = await deps.versions.byLabel(pool, label);
    if (done) return completeStep(run, step, { version: done.version });
    try {
      const result = await deps.mutate(
        {
          kind: 'activate',
          layers: step.layers,
          instances: step.instances ?? [...deps.members],
          percentage: step.percentage,
        },
        {
          actor: rolloutActor(run),
          reason: `rollout ${run.planName} #${run.id} step ${run.stepIndex + 1}/${run.plan.steps.length}`,
          label,
          correlationId: label,
          timeoutMs: 30_000,
        },
      );
      await completeStep(run, step, {
        version: result.plan.afterVersion,
        ...(result.complete ? {} : { note: 'not every instance had applied it within 30 s' }),
      });
    } catch (err) {
      const e = err instanceof TriadError ? err : new TriadError('INTERNAL', String(err));
      // Another leader (or this one, a tick ago) wrote the label first: the next tick finds it and moves on.
      if (e.code === 'INPUT_INVALID' && /label/.test(e.detail)) return;
      const waited = clock.now() - (run.stepStartedAt ?? clock.now());
      const message = `${e.code === 'GATE_REFUSED' ? 'waiting for gates' : 'activation failed'}: ${e.detail}`.slice(
        0,
        1_000,
      );
      if (waited >= gateWaitMs)
        await pauseWith(run, `${message} (gave up after ${formatDurationMs(waited)}): promote to try again`);
      else await store.updateRun(pool, run.id, { message }, { status: ['running'], stepIndex: run.stepIndex });
    }
  };

  const confirmStep = async (run: RunRow<Plan>, step: Extract<PlanStep, { kind: 'confirm' }>) => {
    try {
      const res = await (deps.fetch ?? fetch)(step.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: run.planName, run_id: run.id, step: run.stepIndex, phase: 'confirm-promotion' }),
        signal: AbortSignal.timeout(5_000),
      });
      if (res.ok) return completeStep(run, step, { note: `confirmed by ${step.url} (${res.status})` });
      await store.updateRun(
        pool,
        run.id,
        { message: `waiting for ${step.url} to confirm (answered ${res.status})` },
        { status: ['running'], stepIndex: run.stepIndex },
      );
    } catch (err) {
      await store.updateRun(
        pool,
        run.id,
        { message: `waiting for ${step.url} to confirm: ${(err as Error).message}` },
        { status: ['running'], stepIndex: run.stepIndex },
      );
    }
    if (run.stepDeadline !== undefined && clock.now() >= run.stepDeadline)
      await pauseWith(run, `${step.url} did not confirm in time: promote to go on, abort to roll back`);
  };

  /** One step forward at most; true when the run moved (so the tick may look again). */
  const advance = async (run: RunRow<Plan>): Promise<boolean> => {
    if (run.status === 'aborting') {
      await finishAbort(run);
      return false;
    }
    const now = clock.now();
    if (run.status === 'paused' && run.stepDeadline !== undefined && now >= run.stepDeadline) {
      const step = run.plan.steps[run.stepIndex];
      if (step?.kind === 'pause') {
        await transition(run, { status: 'running' }, { kind: 'resumed', message: 'timed pause over' });
        return true;
      }
    }
    if (run.status !== 'running') return false;
    const step = run.plan.steps[run.stepIndex];
    if (!step) {
      await transition(
        run,
        { status: 'completed', finishedAt: now },
        { kind: 'completed', message: `rollout ${run.planName} #${run.id} completed` },
      );
      return false;
    }
    const latest = await deps.versions.latest(pool);
    const drifted = drift(run, latest);
    if (drifted) {
      await abortWith(
        run,
        { reason: `rollback trigger: ${drifted}`, check: 'rollback_trigger', detail: drifted },
        'automatic_rollback',
      );
      return false;
    }
    if (run.stepStartedAt === undefined) {
      const forMs =
        step.kind === 'wait' || step.kind === 'pause' || step.kind === 'analysis' || step.kind === 'confirm'
          ? step.forMs
          : undefined;
      const patch: RunPatch = {
        stepStartedAt: now,
        stepDeadline: forMs === undefined ? undefined : now + timing.duration(forMs),
      };
      if (!(await store.updateRun(pool, run.id, patch, { status: ['running'], stepIndex: run.stepIndex })))
        return false;
      await store.saveStep(pool, {
        runId: run.id,
        stepIndex: run.stepIndex,
        kind: step.kind,
        status: 'running',
        version: undefined,
        actor: undefined,
        note: undefined,
        startedAt: now,
        finishedAt: undefined,
      });
      run = { ...run, stepStartedAt: now, stepDeadline: patch.stepDeadline };
    }
    if (run.fullPromote && step.kind !== 'activate') {
      await completeStep(run, step, { skipped: true, note: 'promote --full' });
      return true;
    }
    const background = await analyse(run, run.plan.background, latest);
    if (background.stop) {
      await stopFor(run, background.stop);
      return false;
    }
    switch (step.kind) {
      case 'activate':
        await activateStep(run, step);
        return true;
      case 'wait':
        if (now < (run.stepDeadline ?? now)) return false;
        await completeStep(run, step);
        return true;
      case 'analysis': {
        const template = run.plan.templates[step.template];
        const result = await analyse(
          run,
          [step.template],
          latest,
          step.intervalMs === undefined ? undefined : timing.duration(step.intervalMs),
        );
        if (result.stop) {
          await stopFor(run, result.stop);
          return false;
        }
        const enough =
          run.stepDeadline !== undefined
            ? now >= run.stepDeadline
            : (template?.metrics ?? []).every((m) => (result.counts.get(`${step.template}/${m.name}`) ?? 0) >= m.count);
        if (!enough) return false;
        await completeStep(run, step, { note: `analysis ${step.template} passed` });
        return true;
      }
      case 'pause':
        if (step.forMs !== undefined) {
          if (now < (run.stepDeadline ?? now)) return false;
          await completeStep(run, step);
          return true;
        }
        await pauseWith(run, 'paused by the plan: promote to go on');
        return false;
      case 'approve':
        await pauseWith(run, `waiting for approval: ${step.note}`, 'waiting_approval');
        return false;
      case 'confirm':
        await confirmStep(run, step);
        return true;
    }
  };

  return {
    /** One pass over every run under way; errors are logged per run and retried on the next tick. */
    async tick(): Promise<void> {
      const runs = await store.activeRuns(pool);
      for (const first of runs) {
        let run: RunRow<Plan> | undefined = first;
        for (let moves = 0; run && moves < 5; moves++) {
          try {
            if (!(await advance(run))) break;
          } catch (err) {
            log.error(
              { operation: 'rollout', run_id: run.id, plan: run.planName, err },
              'rollout step failed; will retry',
            );
            break;
          }
          run = await store.run(pool, run.id);
          if (!run || !['running', 'aborting'].includes(run.status)) break;
        }
      }
    },
    /** Events are written by the executor and the commands alike; exposed for tests of a single step. */
    event,
  };
}

export type Executor = ReturnType<typeof createExecutor>;

/**
 * The executor's loop on a node: it ticks only while this node leads (DESIGN §2), so one node at a time moves runs;
 * the compare-and-set on every transition covers the moment two nodes both believe they lead.
 */
export function runWhileLeader(options: {
  executor: Pick<Executor, 'tick'>;
  isLeader: () => boolean;
  clock: Clock;
  log: Logger;
  intervalMs: number;
}) {
  const stopping = new AbortController();
  let loop: Promise<void> | undefined;
  return {
    start(): void {
      loop = repeatEvery(options.clock, options.intervalMs, stopping.signal, async () => {
        if (!options.isLeader()) return;
        await options.executor
          .tick()
          .catch((err: unknown) => options.log.error({ operation: 'rollout', err }, 'rollout tick failed'));
      });
    },
    async stop(): Promise<void> {
      stopping.abort(new Error('stopping'));
      await loop;
    },
  };
}
