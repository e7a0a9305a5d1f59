import { formatDurationMs, layerIds, type LayerId } from '../config/index.js';
import { agreedLayerView, measurementKeys, type InstanceFigures } from '../consensus/index.js';
import type { AgreedFigures } from '../layer-manager/index.js';
import type { MeasurementPhase } from '../storage/index.js';
import { measureTriad, tally, verdict, type Measurement } from './analysis.js';
import { describeStep, type AnalysisMetric, type Plan, type PlanStep } from './plan.js';

/**
 * `triad rollout backtest`: the plan's analysis replayed over stored history on a simulated clock. It walks the steps
 * the way the executor does (the same measureTriad, tally and verdict, so the same successCondition / failureLimit /
 * inconclusiveLimit semantics), except that nothing is changed: activate steps are taken as applied at their time,
 * pauses and approvals as granted at once, and the triad provider reads the stored epoch in force at each tick
 * instead of the live agreed view. Pure: the CLI loads the history, this judges it.
 */

/** One stored consensus epoch (a consensus_measurements row), reduced to what the triad provider reads. */
export interface HistoryEpoch {
  at: number;
  error: number;
  members: readonly string[];
  /** The agreed vector by measurement key ("R3.amplification", …). */
  agreed: Readonly<Record<string, number>>;
}

/** Operations in one bucket of time (operation_history, summed per minute by the CLI). */
export interface OperationBucket {
  at: number;
  operations: number;
  failed: number;
}

export interface BacktestInput {
  plan: Plan;
  from: number;
  to: number;
  /** Sorted by `at`. */
  epochs: readonly HistoryEpoch[];
  /** Sorted by `at`. */
  operations: readonly OperationBucket[];
  members: readonly string[];
  timing: { duration: (ms: number) => number; maxSampleAgeMs: number; minSamples: number };
}

export interface BacktestMeasurement {
  at: number;
  template: string;
  check: string;
  phase: MeasurementPhase;
  value?: number;
  detail: string;
  /** False for a check that cannot be replayed (PromQL): shown, never counted toward a limit. */
  replayed: boolean;
}

export type StepOutcome = 'applied' | 'passed' | 'assumed' | 'failed' | 'paused' | 'not enough history';

export interface BacktestStep {
  index: number;
  kind: PlanStep['kind'];
  description: string;
  startedAt: number;
  endedAt: number;
  outcome: StepOutcome;
  note: string;
  measurements: BacktestMeasurement[];
  operations: { total: number; failed: number };
}

/** pass: the whole plan would have finished; abort: a check failed; pause: a human would have been asked; incomplete: T2 came first. */
export type BacktestOutcome = 'pass' | 'abort' | 'pause' | 'incomplete';

export interface BacktestResult {
  plan: string;
  from: number;
  to: number;
  outcome: BacktestOutcome;
  /** When the simulated run ended (or stopped). */
  endedAt: number;
  epochs: number;
  message: string;
  stop?: {
    step: number;
    template: string;
    check: string;
    phase: MeasurementPhase;
    value: number | null;
    threshold: string;
    detail: string;
  };
  steps: BacktestStep[];
}

/** Exit codes, as `rollout status --timeout`: 0 would pass, 1 would abort, 3 would stop (a pause, or not enough history). */
export const backtestExit: Record<BacktestOutcome, 0 | 1 | 3> = { pass: 0, abort: 1, pause: 3, incomplete: 3 };

const notReplayable = 'not replayable: PromQL checks are not replayed from stored history (not counted)';

export function backtest(input: BacktestInput): BacktestResult {
  const { plan, from, to, epochs, timing } = input;
  const activated = new Set<string>();
  const steps: BacktestStep[] = [];
  let t = from;

  /** The stored epoch in force at `at`: the last one that started at or before it. */
  const epochAt = (at: number): HistoryEpoch | undefined => {
    let lo = 0;
    let hi = epochs.length - 1;
    let found: HistoryEpoch | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = epochs[mid] as HistoryEpoch;
      if (e.at <= at) {
        found = e;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };

  const measure = (metric: AnalysisMetric, at: number): Omit<BacktestMeasurement, 'template' | 'check'> | 'skip' => {
    if (metric.provider.prometheus) return { at, phase: 'INCONCLUSIVE', detail: notReplayable, replayed: false };
    const epoch = epochAt(at);
    const agreed = epoch ? figuresOf(epoch) : undefined;
    const reporting = (layer: LayerId) => (agreed?.layers[layer]?.reportingInstances ?? 0) > 0;
    let m: Measurement | 'skip';
    try {
      m = measureTriad(metric, {
        agreed,
        now: at,
        maxSampleAgeMs: timing.maxSampleAgeMs,
        minSamples: timing.minSamples,
        members: input.members,
        // What the plan put on so far, and whatever the stored epoch shows running already (the state before T1).
        active: (instance, layer) => activated.has(`${instance}|${layer}`) || reporting(layer),
      });
    } catch (err) {
      m = { phase: 'ERROR', detail: `provider failed: ${(err as Error).message}`.slice(0, 300) };
    }
    if (m === 'skip') return 'skip';
    return {
      at,
      phase: m.phase,
      ...(m.value !== undefined ? { value: m.value } : {}),
      detail: m.detail,
      replayed: true,
    };
  };

  const operationsBetween = (start: number, end: number) => {
    let total = 0;
    let failed = 0;
    for (const b of input.operations)
      if (b.at >= start && b.at <= end) {
        total += b.operations;
        failed += b.failed;
      }
    return { total, failed };
  };

  const finish = (outcome: BacktestOutcome, message: string, stop?: BacktestResult['stop']): BacktestResult => ({
    plan: plan.name,
    from,
    to,
    outcome,
    endedAt: t,
    epochs: epochs.filter((e) => e.at >= from && e.at <= to).length,
    message,
    ...(stop ? { stop } : {}),
    steps,
  });

  for (const [index, step] of plan.steps.entries()) {
    const description = describeStep(step, formatDurationMs);
    const record: BacktestStep = {
      index,
      kind: step.kind,
      description,
      startedAt: t,
      endedAt: t,
      outcome: 'passed',
      note: '',
      measurements: [],
      operations: { total: 0, failed: 0 },
    };
    steps.push(record);
    const forMs = step.kind === 'wait' || step.kind === 'analysis' || step.kind === 'pause' ? step.forMs : undefined;
    const deadline = forMs === undefined ? undefined : t + timing.duration(forMs);
    // The checks measured during the step: the plan's background templates always, plus the step's own.
    const checks: { template: string; metric: AnalysisMetric; intervalMs: number }[] = [];
    const add = (template: string, override?: number) => {
      for (const metric of plan.templates[template]?.metrics ?? [])
        checks.push({ template, metric, intervalMs: override ?? timing.duration(metric.interval) });
    };
    plan.background.forEach((name) => add(name));
    if (step.kind === 'analysis')
      add(step.template, step.intervalMs === undefined ? undefined : timing.duration(step.intervalMs));
    const timed = deadline !== undefined || step.kind === 'analysis';
    if (step.kind === 'activate') {
      for (const instance of step.instances ?? input.members)
        for (const layer of step.layers) activated.add(`${instance}|${layer}`);
    }

    // Each check is measured at the step's start and every interval after, as the executor's ticks do.
    const next = new Map(checks.map((c, i) => [i, t]));
    const counts = new Map<number, number>();
    let stop: BacktestResult['stop'] | undefined;
    let stopVerdict: 'failed' | 'error' | 'inconclusive' | undefined;
    let stopReason = '';
    for (;;) {
      const due = checks.length > 0 ? Math.min(...next.values()) : t;
      const now = timed ? due : t;
      if (deadline !== undefined && now > deadline) break;
      if (checks.length === 0 || (!timed && now > t)) break;
      if (now > to) {
        t = to;
        record.endedAt = to;
        record.outcome = 'not enough history';
        record.note = `the history ends at T2 before this step's measurement due at ${new Date(now).toISOString()}`;
        record.operations = operationsBetween(record.startedAt, to);
        return finish('incomplete', `not enough history: step ${index + 1} (${description}) needs data past T2`);
      }
      t = now;
      for (const [i, c] of checks.entries()) {
        if ((next.get(i) as number) !== now) continue;
        next.set(i, now + c.intervalMs);
        const m = measure(c.metric, now);
        if (m === 'skip') continue;
        record.measurements.push({ template: c.template, check: c.metric.name, ...m });
        if (m.replayed) counts.set(i, (counts.get(i) ?? 0) + 1);
        const own = record.measurements.filter(
          (x) => x.replayed && x.template === c.template && x.check === c.metric.name,
        );
        const tl = tally(own);
        const v = verdict(c.metric, tl);
        if (v === 'running' || stop) continue;
        const phase = v === 'failed' ? 'FAIL' : v === 'error' ? 'ERROR' : 'INCONCLUSIVE';
        const limit =
          v === 'failed'
            ? `${tl.failed} failed > failureLimit ${c.metric.failureLimit}`
            : v === 'error'
              ? `${tl.consecutiveErrors} consecutive errors > consecutiveErrorLimit ${c.metric.consecutiveErrorLimit}`
              : `${tl.inconclusive} inconclusive > inconclusiveLimit ${c.metric.inconclusiveLimit}`;
        stopVerdict = v;
        stopReason = `${phase} ${c.template}/${c.metric.name}: ${tl.last?.detail ?? ''} (${limit})`;
        stop = {
          step: index + 1,
          template: c.template,
          check: c.metric.name,
          phase,
          value: tl.last?.value ?? null,
          threshold: c.metric.successCondition,
          detail: tl.last?.detail ?? '',
        };
      }
      if (stop) break;
      // An analysis step without `for` ends once every check of its template has its `count` measurements.
      if (step.kind === 'analysis' && deadline === undefined) {
        const enough = checks.every(
          (c, i) =>
            c.template !== step.template || c.metric.provider.prometheus || (counts.get(i) ?? 0) >= c.metric.count,
        );
        if (enough) break;
      }
      if (!timed) break;
    }
    if (deadline !== undefined && !stop) {
      if (deadline > to) {
        t = to;
        record.endedAt = to;
        record.outcome = 'not enough history';
        record.note = `the step runs until ${new Date(deadline).toISOString()}, past T2`;
        record.operations = operationsBetween(record.startedAt, to);
        return finish('incomplete', `not enough history: step ${index + 1} (${description}) runs past T2`);
      }
      t = deadline;
    }
    record.endedAt = t;
    record.operations = operationsBetween(record.startedAt, t);
    if (stop) {
      record.outcome = stopVerdict === 'inconclusive' ? 'paused' : 'failed';
      record.note = stopReason;
      return stopVerdict === 'inconclusive'
        ? finish('pause', `would pause at step ${index + 1}: ${stopReason}`, stop)
        : finish('abort', `would abort at step ${index + 1}: ${stopReason}`, stop);
    }
    switch (step.kind) {
      case 'activate':
        record.outcome = 'applied';
        record.note = 'assumed applied at this time (gates are not replayed)';
        break;
      case 'pause':
        if (step.forMs === undefined) {
          record.outcome = 'assumed';
          record.note = 'assumed promoted at once';
        }
        break;
      case 'approve':
        record.outcome = 'assumed';
        record.note = `assumed approved at once (${step.note})`;
        break;
      case 'confirm':
        record.outcome = 'assumed';
        record.note = `assumed confirmed by ${step.url} (not replayed)`;
        break;
      case 'analysis':
        record.note = `analysis ${step.template} passed`;
        break;
      case 'wait':
        break;
    }
  }
  return finish('pass', `would pass: every step done at ${new Date(t).toISOString()}`);
}

/**
 * The stored row keeps the agreed (cluster-mean) vector only, not each instance's snapshot: every instance is judged
 * by the cluster-wide figure of the layer (the live provider judges each instance by its own).
 */
function figuresOf(epoch: HistoryEpoch): AgreedFigures {
  const vector = measurementKeys.map((k) => epoch.agreed[k] ?? 0);
  const layers = agreedLayerView(vector, epoch.members.length);
  const perLayer = {} as Record<LayerId, InstanceFigures>;
  for (const layer of layerIds) {
    const l = layers[layer];
    perLayer[layer] = {
      samples: l.samples,
      settled: l.settled,
      ...(l.amplification !== undefined ? { amplification: l.amplification } : {}),
      ...(l.errorRate !== undefined ? { errorRate: l.errorRate } : {}),
    };
  }
  return {
    at: epoch.at,
    error: epoch.error,
    layers,
    instances: Object.fromEntries(epoch.members.map((m) => [m, perLayer])),
  };
}
