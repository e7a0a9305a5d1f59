import { isLayerId, layerIds } from '../config/index.js';
import { readCohortOperations, type CohortOperation, type Queryable } from '../storage/index.js';
import { TriadError, type Clock } from '../shared/index.js';
import { judgeCanary, type CanaryJudgement, type CohortSample, type JudgeOptions } from './judge.js';

export interface CanaryQuery {
  layer: string;
  /** The canary: the instance running the change. */
  instance: string;
  /** The control cohort; default every other instance of the cluster. */
  control?: readonly string[];
  windowMs: number;
}

export interface CanaryReport extends CanaryJudgement {
  layer: string;
  instance: string;
  control: string[];
  windowMs: number;
  /** The window judged, [from, to) in epoch ms. */
  fromMs: number;
  toMs: number;
}

export interface CanaryJudge {
  judge(query: CanaryQuery, options?: Partial<JudgeOptions>): Promise<CanaryReport>;
}

/** The longest window the judge reads (a week, the longest gate window of the operations plan). */
export const maxWindowMs = 7 * 24 * 3_600_000;
/** Newest operations kept per cohort: past a few thousand, the interval is as narrow as the data allows anyway. */
const maxSamplesPerCohort = 20_000;

/**
 * Reads the canary and control cohorts of one layer from operation_history over the window ending now, and judges
 * them. The canary is one instance running the layer's change; the control is the instances that do not (by default,
 * all the others), over the same window, so load and time of day affect both alike.
 */
export function createCanaryJudge(deps: { pool: Queryable; clock: Clock; instances: readonly string[] }): CanaryJudge {
  return {
    async judge(query, options) {
      if (!isLayerId(query.layer))
        throw new TriadError('INPUT_INVALID', `unknown layer "${query.layer}" (layers: ${layerIds.join(', ')})`);
      const known = (name: string): void => {
        if (!deps.instances.includes(name))
          throw new TriadError('INPUT_INVALID', `unknown instance "${name}" (instances: ${deps.instances.join(', ')})`);
      };
      known(query.instance);
      const control = query.control?.length ? [...query.control] : deps.instances.filter((i) => i !== query.instance);
      control.forEach(known);
      if (control.includes(query.instance))
        throw new TriadError('INPUT_INVALID', `the canary instance "${query.instance}" cannot also be its control`);
      if (!(Number.isInteger(query.windowMs) && query.windowMs >= 1_000 && query.windowMs <= maxWindowMs))
        throw new TriadError('INPUT_INVALID', `window must be from 1s to 7d, received ${query.windowMs} ms`);
      const toMs = deps.clock.now();
      const fromMs = toMs - query.windowMs;
      const read = (instances: readonly string[]) =>
        readCohortOperations(deps.pool, { layer: query.layer, instances, fromMs, toMs, limit: maxSamplesPerCohort });
      const [canaryOps, controlOps] = await Promise.all([read([query.instance]), read(control)]);
      const judgement = judgeCanary(sampleOf(canaryOps), sampleOf(controlOps), options);
      return {
        ...judgement,
        layer: query.layer,
        instance: query.instance,
        control,
        windowMs: query.windowMs,
        fromMs,
        toMs,
      };
    },
  };
}

function sampleOf(ops: readonly CohortOperation[]): CohortSample {
  return {
    durationsMs: ops.map((o) => o.durationMs),
    burdenHours: ops.map((o) => (o.success ? o.burdenSavedHours : 0)),
    operations: ops.length,
    errors: ops.filter((o) => !o.success).length,
  };
}
