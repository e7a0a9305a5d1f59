-- The audit actor is who the server verified (the client certificate's subject, DESIGN §8); what the client says of
-- its user (e.g. alice@laptop) is kept beside it, never instead of it. Null for rows written before certificates.
ALTER TABLE audit_log ADD COLUMN on_behalf_of text;
ALTER TABLE desired_state_versions ADD COLUMN on_behalf_of text;
