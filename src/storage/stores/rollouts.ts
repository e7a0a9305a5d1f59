import type { Queryable } from '../pool.js';

/** The states a run goes through (docs/rollouts.md); the first four are "under way". */
export type RunStatus = 'running' | 'paused' | 'waiting_approval' | 'aborting' | 'aborted' | 'completed';
export const activeRunStatuses: readonly RunStatus[] = ['running', 'paused', 'waiting_approval', 'aborting'];

export interface PlanRow<Plan> {
  name: string;
  plan: Plan;
  sourceFile: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export interface RunRow<Plan> {
  id: number;
  planName: string;
  plan: Plan;
  status: RunStatus;
  stepIndex: number;
  stepStartedAt: number | undefined;
  stepDeadline: number | undefined;
  beforeVersion: number;
  abortVersion: number | undefined;
  fullPromote: boolean;
  message: string | undefined;
  failure: Record<string, unknown> | undefined;
  startedBy: string;
  startedAt: number;
  finishedAt: number | undefined;
}

export type RunPatch = Partial<
  Pick<
    RunRow<unknown>,
    | 'status'
    | 'stepIndex'
    | 'stepStartedAt'
    | 'stepDeadline'
    | 'abortVersion'
    | 'fullPromote'
    | 'message'
    | 'failure'
    | 'finishedAt'
  >
>;

export interface StepRow {
  runId: number;
  stepIndex: number;
  kind: string;
  status: 'running' | 'completed' | 'skipped' | 'failed';
  version: number | undefined;
  actor: string | undefined;
  note: string | undefined;
  startedAt: number;
  finishedAt: number | undefined;
}

export type MeasurementPhase = 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'ERROR';

export interface MeasurementRow {
  runId: number;
  stepIndex: number;
  template: string;
  check: string;
  phase: MeasurementPhase;
  value: number | undefined;
  detail: string;
  measuredAt: number;
}

export interface EventRow {
  id: number;
  runId: number;
  kind: string;
  stepIndex: number | undefined;
  message: string;
  data: Record<string, unknown>;
  at: number;
}

export interface DeliveryRow {
  eventId: number;
  url: string;
  attempt: number;
  status: number | undefined;
  error: string | undefined;
  delivered: boolean;
  at: number;
}

/** rollout_plans, rollout_runs, rollout_steps, rollout_measurements, rollout_events, rollout_webhook_deliveries. */
export interface RolloutStore<Plan> {
  savePlan(db: Queryable, row: Omit<PlanRow<Plan>, 'createdAt' | 'updatedAt'> & { at: number }): Promise<void>;
  plan(db: Queryable, name: string): Promise<PlanRow<Plan> | undefined>;
  plans(db: Queryable): Promise<PlanRow<Plan>[]>;
  insertRun(
    db: Queryable,
    row: { planName: string; plan: Plan; beforeVersion: number; startedBy: string; at: number },
  ): Promise<number>;
  /** The newest run of a plan; `forUpdate` locks it until the transaction ends. */
  latestRun(db: Queryable, planName: string, forUpdate?: boolean): Promise<RunRow<Plan> | undefined>;
  run(db: Queryable, id: number): Promise<RunRow<Plan> | undefined>;
  runs(db: Queryable, planName: string, limit: number): Promise<RunRow<Plan>[]>;
  activeRuns(db: Queryable): Promise<RunRow<Plan>[]>;
  /** Applies `patch` only while the run is still at `expect` (status and step): false when someone moved it first. */
  updateRun(
    db: Queryable,
    id: number,
    patch: RunPatch,
    expect?: { status?: readonly RunStatus[]; stepIndex?: number },
  ): Promise<boolean>;
  saveStep(db: Queryable, row: StepRow): Promise<void>;
  steps(db: Queryable, runId: number): Promise<StepRow[]>;
  /** Inserts one measurement and trims that check's history to the newest `keep`. */
  addMeasurement(db: Queryable, row: MeasurementRow, keep: number): Promise<void>;
  measurements(db: Queryable, runId: number, since?: { stepIndex: number }): Promise<MeasurementRow[]>;
  addEvent(db: Queryable, row: Omit<EventRow, 'id'>): Promise<number>;
  events(db: Queryable, runId: number): Promise<EventRow[]>;
  /** Events after `afterId` of runs, oldest first: the webhook outbox. */
  eventsAfter(db: Queryable, afterId: number, limit: number): Promise<EventRow[]>;
  addDelivery(db: Queryable, row: DeliveryRow): Promise<void>;
  deliveries(db: Queryable, eventId: number, url: string): Promise<DeliveryRow[]>;
  /** Events after `afterId` of runs whose plan names webhooks, oldest first, with the plan's notifications. */
  notifiableEvents(
    db: Queryable,
    afterId: number,
    limit: number,
  ): Promise<{ event: EventRow; planName: string; notifications: unknown }[]>;
  /** Per event and URL: attempts made, whether one succeeded, and when the last was made. */
  deliveryState(db: Queryable, eventIds: readonly number[]): Promise<DeliveryState[]>;
}

export interface DeliveryState {
  eventId: number;
  url: string;
  attempts: number;
  delivered: boolean;
  lastAt: number;
}

const ms = (d: Date | null): number | undefined => (d ? d.getTime() : undefined);
const date = (n: number | undefined): Date | null => (n === undefined ? null : new Date(n));

interface RawRun {
  id: string;
  plan_name: string;
  plan: unknown;
  status: RunStatus;
  step_index: number;
  step_started_at: Date | null;
  step_deadline: Date | null;
  before_version: string;
  abort_version: string | null;
  full_promote: boolean;
  message: string | null;
  failure: Record<string, unknown> | null;
  started_by: string;
  started_at: Date;
  finished_at: Date | null;
}

interface RawPlan {
  name: string;
  plan: unknown;
  source_file: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

const patchColumns: Record<keyof RunPatch, string> = {
  status: 'status',
  stepIndex: 'step_index',
  stepStartedAt: 'step_started_at',
  stepDeadline: 'step_deadline',
  abortVersion: 'abort_version',
  fullPromote: 'full_promote',
  message: 'message',
  failure: 'failure',
  finishedAt: 'finished_at',
};

export function createRolloutStore<Plan>(decode: (raw: unknown) => Plan): RolloutStore<Plan> {
  const toRun = (r: RawRun): RunRow<Plan> => ({
    id: Number(r.id),
    planName: r.plan_name,
    plan: decode(r.plan),
    status: r.status,
    stepIndex: r.step_index,
    stepStartedAt: ms(r.step_started_at),
    stepDeadline: ms(r.step_deadline),
    beforeVersion: Number(r.before_version),
    abortVersion: r.abort_version === null ? undefined : Number(r.abort_version),
    fullPromote: r.full_promote,
    message: r.message ?? undefined,
    failure: r.failure ?? undefined,
    startedBy: r.started_by,
    startedAt: r.started_at.getTime(),
    finishedAt: ms(r.finished_at),
  });
  const toPlan = (r: RawPlan): PlanRow<Plan> => ({
    name: r.name,
    plan: decode(r.plan),
    sourceFile: r.source_file,
    createdBy: r.created_by,
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
  });
  const toEvent = (r: {
    id: string;
    run_id: string;
    kind: string;
    step_index: number | null;
    message: string;
    data: Record<string, unknown>;
    at: Date;
  }): EventRow => ({
    id: Number(r.id),
    runId: Number(r.run_id),
    kind: r.kind,
    stepIndex: r.step_index ?? undefined,
    message: r.message,
    data: r.data,
    at: r.at.getTime(),
  });
  return {
    async savePlan(db, row) {
      await db.query(
        `INSERT INTO rollout_plans (name, plan, source_file, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (name) DO UPDATE SET plan = $2, source_file = $3, created_by = $4, updated_at = $5`,
        [row.name, JSON.stringify(row.plan), row.sourceFile, row.createdBy, new Date(row.at)],
      );
    },
    async plan(db, name) {
      const { rows } = await db.query<RawPlan>('SELECT * FROM rollout_plans WHERE name = $1', [name]);
      return rows[0] ? toPlan(rows[0]) : undefined;
    },
    async plans(db) {
      const { rows } = await db.query<RawPlan>('SELECT * FROM rollout_plans ORDER BY name');
      return rows.map(toPlan);
    },
    async insertRun(db, row) {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO rollout_runs (plan_name, plan, status, step_index, before_version, started_by, started_at)
         VALUES ($1, $2, 'running', 0, $3, $4, $5) RETURNING id`,
        [row.planName, JSON.stringify(row.plan), row.beforeVersion, row.startedBy, new Date(row.at)],
      );
      return Number(rows[0]?.id);
    },
    async latestRun(db, planName, forUpdate = false) {
      const { rows } = await db.query<RawRun>(
        `SELECT * FROM rollout_runs WHERE plan_name = $1 ORDER BY id DESC LIMIT 1${forUpdate ? ' FOR UPDATE' : ''}`,
        [planName],
      );
      return rows[0] ? toRun(rows[0]) : undefined;
    },
    async run(db, id) {
      const { rows } = await db.query<RawRun>('SELECT * FROM rollout_runs WHERE id = $1', [id]);
      return rows[0] ? toRun(rows[0]) : undefined;
    },
    async runs(db, planName, limit) {
      const { rows } = await db.query<RawRun>(
        'SELECT * FROM rollout_runs WHERE plan_name = $1 ORDER BY id DESC LIMIT $2',
        [planName, limit],
      );
      return rows.map(toRun);
    },
    async activeRuns(db) {
      const { rows } = await db.query<RawRun>('SELECT * FROM rollout_runs WHERE status = ANY($1) ORDER BY id', [
        activeRunStatuses,
      ]);
      return rows.map(toRun);
    },
    async updateRun(db, id, patch, expect = {}) {
      const sets: string[] = [];
      const values: unknown[] = [id];
      for (const [key, column] of Object.entries(patchColumns) as [keyof RunPatch, string][]) {
        if (!(key in patch)) continue;
        const v = patch[key];
        values.push(
          key === 'stepStartedAt' || key === 'stepDeadline' || key === 'finishedAt'
            ? date(v as number | undefined)
            : key === 'failure'
              ? v === undefined
                ? null
                : JSON.stringify(v)
              : (v ?? null),
        );
        sets.push(`${column} = $${values.length}`);
      }
      if (sets.length === 0) return true;
      const where = ['id = $1'];
      if (expect.status) {
        values.push(expect.status);
        where.push(`status = ANY($${values.length})`);
      }
      if (expect.stepIndex !== undefined) {
        values.push(expect.stepIndex);
        where.push(`step_index = $${values.length}`);
      }
      const result = await db.query(`UPDATE rollout_runs SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`, values);
      return (result.rowCount ?? 0) > 0;
    },
    async saveStep(db, row) {
      await db.query(
        `INSERT INTO rollout_steps (run_id, step_index, kind, status, version, actor, note, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (run_id, step_index) DO UPDATE SET status = $4, version = COALESCE($5, rollout_steps.version),
           actor = COALESCE($6, rollout_steps.actor), note = COALESCE($7, rollout_steps.note), finished_at = $9`,
        [
          row.runId,
          row.stepIndex,
          row.kind,
          row.status,
          row.version ?? null,
          row.actor ?? null,
          row.note ?? null,
          new Date(row.startedAt),
          date(row.finishedAt),
        ],
      );
    },
    async steps(db, runId) {
      const { rows } = await db.query<{
        run_id: string;
        step_index: number;
        kind: string;
        status: StepRow['status'];
        version: string | null;
        actor: string | null;
        note: string | null;
        started_at: Date;
        finished_at: Date | null;
      }>('SELECT * FROM rollout_steps WHERE run_id = $1 ORDER BY step_index', [runId]);
      return rows.map((r) => ({
        runId: Number(r.run_id),
        stepIndex: r.step_index,
        kind: r.kind,
        status: r.status,
        version: r.version === null ? undefined : Number(r.version),
        actor: r.actor ?? undefined,
        note: r.note ?? undefined,
        startedAt: r.started_at.getTime(),
        finishedAt: ms(r.finished_at),
      }));
    },
    async addMeasurement(db, row, keep) {
      await db.query(
        `INSERT INTO rollout_measurements (run_id, step_index, template, check_name, phase, value, detail, measured_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          row.runId,
          row.stepIndex,
          row.template,
          row.check,
          row.phase,
          row.value ?? null,
          row.detail,
          new Date(row.measuredAt),
        ],
      );
      await db.query(
        `DELETE FROM rollout_measurements WHERE run_id = $1 AND template = $2 AND check_name = $3 AND id <= (
           SELECT id FROM rollout_measurements WHERE run_id = $1 AND template = $2 AND check_name = $3
           ORDER BY id DESC OFFSET $4 LIMIT 1)`,
        [row.runId, row.template, row.check, keep],
      );
    },
    async measurements(db, runId, since) {
      const { rows } = await db.query<{
        run_id: string;
        step_index: number;
        template: string;
        check_name: string;
        phase: MeasurementPhase;
        value: number | null;
        detail: string;
        measured_at: Date;
      }>(`SELECT * FROM rollout_measurements WHERE run_id = $1 AND step_index >= $2 ORDER BY id`, [
        runId,
        since?.stepIndex ?? 0,
      ]);
      return rows.map((r) => ({
        runId: Number(r.run_id),
        stepIndex: r.step_index,
        template: r.template,
        check: r.check_name,
        phase: r.phase,
        value: r.value ?? undefined,
        detail: r.detail,
        measuredAt: r.measured_at.getTime(),
      }));
    },
    async addEvent(db, row) {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO rollout_events (run_id, kind, step_index, message, data, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [row.runId, row.kind, row.stepIndex ?? null, row.message, JSON.stringify(row.data), new Date(row.at)],
      );
      return Number(rows[0]?.id);
    },
    async events(db, runId) {
      const { rows } = await db.query('SELECT * FROM rollout_events WHERE run_id = $1 ORDER BY id', [runId]);
      return rows.map(toEvent);
    },
    async eventsAfter(db, afterId, limit) {
      const { rows } = await db.query('SELECT * FROM rollout_events WHERE id > $1 ORDER BY id LIMIT $2', [
        afterId,
        limit,
      ]);
      return rows.map(toEvent);
    },
    async addDelivery(db, row) {
      await db.query(
        `INSERT INTO rollout_webhook_deliveries (event_id, url, attempt, status, error, delivered, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [row.eventId, row.url, row.attempt, row.status ?? null, row.error ?? null, row.delivered, new Date(row.at)],
      );
    },
    async deliveries(db, eventId, url) {
      const { rows } = await db.query<{
        event_id: string;
        url: string;
        attempt: number;
        status: number | null;
        error: string | null;
        delivered: boolean;
        at: Date;
      }>('SELECT * FROM rollout_webhook_deliveries WHERE event_id = $1 AND url = $2 ORDER BY id', [eventId, url]);
      return rows.map((r) => ({
        eventId: Number(r.event_id),
        url: r.url,
        attempt: r.attempt,
        status: r.status ?? undefined,
        error: r.error ?? undefined,
        delivered: r.delivered,
        at: r.at.getTime(),
      }));
    },
    async notifiableEvents(db, afterId, limit) {
      const { rows } = await db.query<Parameters<typeof toEvent>[0] & { notifications: unknown; plan_name: string }>(
        `SELECT e.*, r.plan_name, r.plan->'notifications' AS notifications FROM rollout_events e JOIN rollout_runs r ON r.id = e.run_id
         WHERE e.id > $1 AND jsonb_typeof(r.plan->'notifications') = 'array'
           AND jsonb_array_length(r.plan->'notifications') > 0
         ORDER BY e.id LIMIT $2`,
        [afterId, limit],
      );
      return rows.map((r) => ({ event: toEvent(r), planName: r.plan_name, notifications: r.notifications }));
    },
    async deliveryState(db, eventIds) {
      if (eventIds.length === 0) return [];
      const { rows } = await db.query<{
        event_id: string;
        url: string;
        attempts: number;
        delivered: boolean;
        last_at: Date;
      }>(
        `SELECT event_id, url, count(*)::int AS attempts, bool_or(delivered) AS delivered, max(at) AS last_at
         FROM rollout_webhook_deliveries WHERE event_id = ANY($1) GROUP BY event_id, url`,
        [eventIds],
      );
      return rows.map((r) => ({
        eventId: Number(r.event_id),
        url: r.url,
        attempts: r.attempts,
        delivered: r.delivered,
        lastAt: r.last_at.getTime(),
      }));
    },
  };
}
