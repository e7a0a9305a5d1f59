export { appendAudit, auditHash, canonicalJson, genesisHash, verifyAuditChain } from './audit.js';
export type { AuditEntry, AuditHashInput, AuditRecord, AuditVerification } from './audit.js';
export { createConsensusJournal } from './consensus-journal.js';
export type { ConsensusJournal, ConsensusJournalOptions, ConsensusMeasurementRow } from './consensus-journal.js';
export { defaultEmbeddedPort, startEmbeddedPostgres } from './embedded.js';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded.js';
export { lockKey, lockKeys, SessionLock, withAdvisoryXactLock } from './locks.js';
export type { SessionLockOptions } from './locks.js';
export {
  migrate,
  migrationChecksum,
  migrationsDir,
  parseMigrationFileName,
  planMigrations,
  readMigrations,
} from './migrate.js';
export type {
  AppliedMigration,
  MigrateOptions,
  MigrateResult,
  MigrationFile,
  MigrationPlan,
  MigrationSummary,
} from './migrate.js';
export { listen, notify } from './notify.js';
export type { Listener, ListenOptions } from './notify.js';
export { createPool, describeTarget, retryable, StoragePool, withTransaction } from './pool.js';
export type { PoolOptions, StorageLog } from './pool.js';
