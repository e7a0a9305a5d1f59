-- Rollout plans run by the leader (issue 18, docs/rollouts.md). A plan is stored with its analysis templates resolved,
-- so a run never depends on files on the nodes; a run's state and deadlines live here, not in a process, so a new
-- leader resumes where the old one stopped.

CREATE TABLE rollout_plans (
  name        text PRIMARY KEY,
  plan        jsonb NOT NULL,
  source_file text NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rollout_runs (
  id             bigserial PRIMARY KEY,
  plan_name      text NOT NULL REFERENCES rollout_plans (name),
  -- The plan as it was when the run started: editing the plan later never changes a run under way.
  plan           jsonb NOT NULL,
  status         text NOT NULL CHECK (status IN ('running', 'paused', 'waiting_approval', 'aborting', 'aborted', 'completed')),
  step_index     integer NOT NULL DEFAULT 0,
  step_started_at timestamptz,
  -- When the current step's wait ends: stored, never slept on, so it survives a leader change.
  step_deadline  timestamptz,
  -- The desired-state version before the run's first change: an abort writes a new version equal to it.
  before_version bigint NOT NULL,
  abort_version  bigint,
  -- `promote --full`: every remaining wait, pause, analysis and approval is skipped.
  full_promote   boolean NOT NULL DEFAULT false,
  message        text,
  failure        jsonb,
  started_by     text NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
-- At most one run of a plan under way at a time.
CREATE UNIQUE INDEX rollout_runs_one_active_idx ON rollout_runs (plan_name)
  WHERE status IN ('running', 'paused', 'waiting_approval', 'aborting');

CREATE TABLE rollout_steps (
  run_id      bigint NOT NULL REFERENCES rollout_runs (id),
  step_index  integer NOT NULL,
  kind        text NOT NULL,
  status      text NOT NULL CHECK (status IN ('running', 'completed', 'skipped', 'failed')),
  -- The desired-state version an activate step wrote (its label is rollout-<run>-<step>, the idempotency key).
  version     bigint,
  actor       text,
  note        text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (run_id, step_index)
);

-- Analysis measurements, the last N per check kept (rollouts.measurements_kept).
CREATE TABLE rollout_measurements (
  id          bigserial PRIMARY KEY,
  run_id      bigint NOT NULL REFERENCES rollout_runs (id),
  step_index  integer NOT NULL,
  template    text NOT NULL,
  check_name  text NOT NULL,
  phase       text NOT NULL CHECK (phase IN ('PASS', 'FAIL', 'INCONCLUSIVE', 'ERROR')),
  value       double precision,
  detail      text NOT NULL,
  measured_at timestamptz NOT NULL
);
CREATE INDEX rollout_measurements_run_check_idx ON rollout_measurements (run_id, template, check_name, id);

-- Every run event in order: what `rollout history` lists and what webhooks deliver (an outbox: a delivery is retried
-- until it succeeds or gives up, and a receiver sees a run's events in this order).
CREATE TABLE rollout_events (
  id         bigserial PRIMARY KEY,
  run_id     bigint NOT NULL REFERENCES rollout_runs (id),
  kind       text NOT NULL,
  step_index integer,
  message    text NOT NULL,
  data       jsonb NOT NULL DEFAULT '{}',
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollout_events_run_idx ON rollout_events (run_id, id);

CREATE TABLE rollout_webhook_deliveries (
  id         bigserial PRIMARY KEY,
  event_id   bigint NOT NULL REFERENCES rollout_events (id),
  url        text NOT NULL,
  attempt    integer NOT NULL,
  status     integer,
  error      text,
  delivered  boolean NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollout_webhook_deliveries_event_idx ON rollout_webhook_deliveries (event_id, url);
