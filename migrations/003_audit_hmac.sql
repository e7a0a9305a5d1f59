-- Tamper-evident audit (docs/security.md, "Audit"). From here on every audit row is an HMAC-SHA256 link keyed with a
-- secret kept outside the database (audit.key beside the certificates), so write access to this database is no longer
-- enough to rewrite history and recompute the chain.

-- Rows written before this migration keep their unkeyed SHA-256 hashes, marked 'sha256'; the first keyed row chains
-- onto the last of them, which seals them (changing one changes the hash that keyed row's MAC covers). New rows are
-- 'hmac-sha256' only: the trigger below refuses an unkeyed insert, so nobody can append a forgeable row later.
ALTER TABLE audit_log ADD COLUMN hash_alg text;
UPDATE audit_log SET hash_alg = 'sha256';
ALTER TABLE audit_log
  ALTER COLUMN hash_alg SET DEFAULT 'hmac-sha256',
  ALTER COLUMN hash_alg SET NOT NULL,
  ADD CONSTRAINT audit_log_hash_alg_check CHECK (hash_alg IN ('sha256', 'hmac-sha256'));

-- The desired-state version a row created, by content: sha256 of the stored version row (canonical JSON). The row's MAC
-- covers it, so rewriting a version (what nodes apply) breaks the link between the two, and nodes refuse to apply it.
ALTER TABLE audit_log ADD COLUMN version_hash text CHECK (version_hash ~ '^[0-9a-f]{64}$');
-- The applier looks up "the row that created version N" on every apply.
CREATE INDEX audit_log_after_version_idx ON audit_log (after_version) WHERE version_hash IS NOT NULL;

-- Append-only for everyone, the owner and superusers included: UPDATE, DELETE and TRUNCATE are refused. A superuser can
-- still drop the trigger; that is what `triad audit anchor` (a head hash and row count kept elsewhere) catches.
CREATE FUNCTION triad_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.hash_alg IS DISTINCT FROM 'hmac-sha256' THEN
      RAISE EXCEPTION 'audit_log accepts keyed rows only (hash_alg hmac-sha256), received %', NEW.hash_alg
        USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_keyed_inserts BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION triad_audit_log_append_only();
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION triad_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION triad_audit_log_append_only();

-- The application role keeps INSERT and SELECT only. Effective for a role that is not a superuser (an owner's own
-- privileges can be revoked too; it could grant them back, which is itself a visible act); a superuser bypasses
-- privileges, and only the trigger stands in its way. Revoked from PUBLIC, from whoever runs the migration, and from
-- every role that was granted them.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, CURRENT_USER;
DO $$
DECLARE grantee_name text;
BEGIN
  FOR grantee_name IN
    SELECT DISTINCT grantee FROM information_schema.role_table_grants
     WHERE table_name = 'audit_log' AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE') AND grantee <> 'PUBLIC'
  LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM %I', grantee_name);
  END LOOP;
END
$$;
