-- Day-2 operations (issue 15): operation_history partitioned by day so retention drops whole partitions instead of
-- deleting rows, and a record of backups so `triad precheck` can say how old the last one is.

-- Why a partitioned table needs a different idempotency key: PostgreSQL enforces a unique constraint on a partitioned
-- table only if it includes the partition key (each partition checks its own index). The key becomes
-- (operation_id, started_at). A retried batch (the case idempotency exists for: committed, but the acknowledgement was
-- lost) resends the very same operation, id and start time alike, so ON CONFLICT (operation_id, started_at) still
-- inserts it once. Rejected: a side table of ids with a global primary key — it would guarantee uniqueness even for a
-- client that reuses an id with another start time (a client bug, not a retry), but costs a second index insert per
-- operation on the hottest write path and needs a retention of its own.
ALTER TABLE operation_history RENAME TO operation_history_unpartitioned;
ALTER INDEX operation_history_pkey RENAME TO operation_history_unpartitioned_pkey;
ALTER INDEX operation_history_operation_id_key RENAME TO operation_history_unpartitioned_operation_id_key;
ALTER INDEX operation_history_layer_instance_started_idx RENAME TO operation_history_unpartitioned_lis_idx;
ALTER INDEX operation_history_started_idx RENAME TO operation_history_unpartitioned_started_idx;

CREATE TABLE operation_history (
  id                 bigint NOT NULL DEFAULT nextval('operation_history_id_seq'),
  operation_id       uuid NOT NULL,
  framework_id       text NOT NULL,
  layer              text NOT NULL,
  instance           text NOT NULL,
  started_at         timestamptz NOT NULL,
  duration_ms        double precision NOT NULL CONSTRAINT operation_history_duration_ms_check CHECK (duration_ms >= 0),
  burden_saved_hours double precision NOT NULL,
  success            boolean NOT NULL,
  error_type         text,
  trace_id           text,
  source             text NOT NULL CONSTRAINT operation_history_source_check CHECK (source IN ('synthetic', 'ingest')),
  cohort             text,
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, started_at),
  CONSTRAINT operation_history_operation_id_key UNIQUE (operation_id, started_at)
) PARTITION BY RANGE (started_at);
-- The same sequence keeps numbering where the old table left off; owned by the new column so it outlives the old table.
ALTER SEQUENCE operation_history_id_seq OWNED BY operation_history.id;
CREATE INDEX operation_history_layer_instance_started_idx ON operation_history (layer, instance, started_at);
CREATE INDEX operation_history_started_idx ON operation_history (started_at);

-- Catches what no daily partition covers (an operation reported with a start time far in the past or future), so an
-- insert is never refused for want of a partition. Retention deletes its expired rows; it is never dropped.
CREATE TABLE operation_history_default PARTITION OF operation_history DEFAULT;

-- One partition per UTC day, named operation_history_pYYYYMMDD (the retention code reads the day back from the name).
-- Rows of that day already in the default partition move into the new one in the same transaction: ATTACH checks the
-- default holds none of the range, and CREATE … PARTITION OF would fail outright. Returns false when it already exists.
CREATE FUNCTION triad_ensure_operation_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  part text := format('operation_history_p%s', to_char(day, 'YYYYMMDD'));
  lower_bound timestamptz := day::timestamp AT TIME ZONE 'UTC';
  upper_bound timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE operation_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXECUTE format(
    'WITH moved AS (DELETE FROM operation_history_default WHERE started_at >= $1 AND started_at < $2 RETURNING *) '
    'INSERT INTO %I SELECT * FROM moved', part) USING lower_bound, upper_bound;
  EXECUTE format('ALTER TABLE operation_history ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                 part, lower_bound, upper_bound);
  RETURN true;
END
$$;

-- Partitions for every day the old table has rows for, and for today and the week ahead (the leader keeps that
-- horizon moving), then the rows themselves.
SELECT triad_ensure_operation_partition(d)
  FROM (SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date AS d FROM operation_history_unpartitioned
        UNION
        SELECT (now() AT TIME ZONE 'UTC')::date + g FROM generate_series(0, 7) AS g) AS days
 ORDER BY d;
INSERT INTO operation_history (id, operation_id, framework_id, layer, instance, started_at, duration_ms,
                               burden_saved_hours, success, error_type, trace_id, source, cohort, recorded_at)
SELECT id, operation_id, framework_id, layer, instance, started_at, duration_ms, burden_saved_hours, success,
       error_type, trace_id, source, cohort, recorded_at
  FROM operation_history_unpartitioned;
DROP TABLE operation_history_unpartitioned;

-- Every `triad backup` that completed: precheck reads the newest to judge the RPO ("last backup younger than …").
CREATE TABLE backup_history (
  id              bigserial PRIMARY KEY,
  taken_at        timestamptz NOT NULL DEFAULT now(),
  -- Where the operator wrote it, as given (a path on the machine that ran `triad backup`).
  file            text NOT NULL,
  bytes           bigint NOT NULL CHECK (bytes >= 0),
  sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  row_counts      jsonb NOT NULL,
  -- The audit chain's head inside the backup's snapshot: what a restore must verify against.
  audit_head_id   bigint,
  audit_head_hash text,
  duration_ms     double precision NOT NULL
);
CREATE INDEX backup_history_taken_idx ON backup_history (taken_at);
