-- triad schema, version 1 (DESIGN §2, §7). Applied by `triad migrate` (or by `triad up` on the embedded engine),
-- each file in its own transaction under an advisory lock; never edit a file once applied: add 002_….sql instead.

-- Frameworks known to the runtime, one row per framework id from config/layers.yaml or registered by a plugin.
CREATE TABLE framework_registry (
  framework_id  text PRIMARY KEY,
  layer         text NOT NULL,
  description   text,
  -- true for the demo's generated frameworks, so reports can leave them out.
  synthetic     boolean NOT NULL DEFAULT false,
  registered_at timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX framework_registry_layer_idx ON framework_registry (layer);

-- Every operation a framework ran or outside automation reported; the source of burden and amplification figures.
CREATE TABLE operation_history (
  id                 bigserial PRIMARY KEY,
  -- Idempotency key: a batch retried after a lost acknowledgement inserts with ON CONFLICT DO NOTHING, never twice.
  operation_id       uuid NOT NULL UNIQUE,
  framework_id       text NOT NULL,
  layer              text NOT NULL,
  instance           text NOT NULL,
  started_at         timestamptz NOT NULL,
  duration_ms        double precision NOT NULL CHECK (duration_ms >= 0),
  burden_saved_hours double precision NOT NULL,
  success            boolean NOT NULL,
  error_type         text,
  trace_id           text,
  source             text NOT NULL CHECK (source IN ('synthetic', 'ingest')),
  cohort             text,
  recorded_at        timestamptz NOT NULL DEFAULT now()
);
-- Burden rate per layer and instance over a window (amplification, gates): equality on layer/instance, range on time.
CREATE INDEX operation_history_layer_instance_started_idx ON operation_history (layer, instance, started_at);
-- Cluster-wide windows and retention deletes, which filter on time alone.
CREATE INDEX operation_history_started_idx ON operation_history (started_at);

-- One row per consensus epoch, written by the leader (DESIGN §3).
CREATE TABLE consensus_measurements (
  id          bigserial PRIMARY KEY,
  epoch_id    text NOT NULL,
  topology    text NOT NULL,
  members     text[] NOT NULL,
  unreachable text[] NOT NULL DEFAULT '{}',
  error       double precision NOT NULL,
  converged   boolean NOT NULL,
  rounds      integer NOT NULL,
  duration_ms double precision NOT NULL,
  -- Null when the effective graph was disconnected for the epoch (λ₂ = 0 has no meaningful step).
  lambda2     double precision,
  agreed      jsonb NOT NULL,
  measured_at timestamptz NOT NULL DEFAULT now()
);
-- Gates and `triad status` read "the latest epochs"; epoch lookups come from re-synchronisation.
CREATE INDEX consensus_measurements_measured_idx ON consensus_measurements (measured_at);
CREATE INDEX consensus_measurements_epoch_idx ON consensus_measurements (epoch_id);

-- Rolled-up per-window figures per instance and layer.
CREATE TABLE performance_metrics (
  id            bigserial PRIMARY KEY,
  instance      text NOT NULL,
  layer         text NOT NULL,
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL CHECK (window_end >= window_start),
  operations    integer NOT NULL,
  errors        integer NOT NULL,
  burden_hours  double precision NOT NULL,
  -- Null for R1 (the base of the ratio) and when the previous layer had no burden in the window.
  amplification double precision,
  measured_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX performance_metrics_instance_layer_window_idx ON performance_metrics (instance, layer, window_end);

-- Alerts and rollback triggers that fired, and when they resolved.
CREATE TABLE alert_history (
  id          bigserial PRIMARY KEY,
  alert       text NOT NULL,
  severity    text NOT NULL,
  layer       text,
  instance    text,
  trigger_id  text,
  value       double precision,
  threshold   double precision,
  action      text,
  details     jsonb NOT NULL DEFAULT '{}',
  fired_at    timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);
CREATE INDEX alert_history_fired_idx ON alert_history (fired_at);
-- "What is firing now" reads only open alerts; a partial index stays small however long the history grows.
CREATE INDEX alert_history_open_idx ON alert_history (alert, layer, instance) WHERE resolved_at IS NULL;

-- Desired state is append-only (DESIGN §2): rollback writes a new version equal to an old one.
CREATE TABLE desired_state_versions (
  -- 1, 2, 3 … with no gaps: assigned as max + 1 under the cluster deployment lock, not from a sequence, because a
  -- sequence leaves holes when a transaction rolls back and nodes compare applied versions exactly.
  version        bigint PRIMARY KEY CHECK (version > 0),
  label          text UNIQUE,
  state          jsonb NOT NULL,
  created_by     text NOT NULL,
  command        text NOT NULL,
  reason         text,
  correlation_id text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Tamper-evident audit trail: each row carries the hash of the row before it (computed by the application, see
-- src/storage/audit.ts), so `triad audit verify` can name the first row that was edited, removed or reordered.
CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  actor          text NOT NULL,
  command        text NOT NULL,
  args           jsonb NOT NULL,
  reason         text,
  correlation_id text NOT NULL,
  before_version bigint,
  after_version  bigint,
  override       boolean NOT NULL DEFAULT false,
  outcome        text NOT NULL,
  undo_command   text,
  -- UNIQUE on prev_hash too: a hash can be followed by one row only, so two writers racing past the application's
  -- lock would fail loudly instead of forking the chain.
  prev_hash      text NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash           text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

-- What each node last applied; admin commands wait on applied_version, the leader watches heartbeat_at.
CREATE TABLE instance_state (
  instance        text PRIMARY KEY,
  applied_version bigint NOT NULL DEFAULT 0,
  applied_at      timestamptz,
  heartbeat_at    timestamptz NOT NULL DEFAULT now()
);
