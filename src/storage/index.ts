export { createConsensusJournal } from './consensus-journal.js';
export type { ConsensusJournal, ConsensusJournalOptions } from './consensus-journal.js';
export { defaultEmbeddedPort, startEmbeddedPostgres } from './embedded.js';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded.js';
export { clusterLockWaitMs, lockClusterDeployment, lockKey, lockKeys, SessionLock } from './locks.js';
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
export { createPool, describeTarget, probe, retryable, StoragePool, withTransaction } from './pool.js';
export type { PoolOptions, Queryable, StorageLog } from './pool.js';
export { alertHistoryStore } from './stores/alert-history.js';
export type { AlertHistoryStore, AlertRow } from './stores/alert-history.js';
export { appendAudit, auditHash, canonicalJson, genesisHash, verifyAuditChain } from './stores/audit-log.js';
export type { AuditEntry, AuditHashInput, AuditRecord, AuditVerification } from './stores/audit-log.js';
export { consensusMeasurementStore } from './stores/consensus-measurements.js';
export type { ConsensusMeasurementRow, ConsensusMeasurementStore } from './stores/consensus-measurements.js';
export { createDesiredStateVersionStore } from './stores/desired-state-versions.js';
export type { DesiredStateVersionStore, VersionRow } from './stores/desired-state-versions.js';
export { frameworkRegistryStore } from './stores/framework-registry.js';
export type { FrameworkRegistryStore, FrameworkRow } from './stores/framework-registry.js';
export { instanceStateStore } from './stores/instance-state.js';
export type { InstanceStateStore } from './stores/instance-state.js';
export { createOperationHistoryStore, readCohortOperations } from './stores/operation-history.js';
export type {
  CohortOperation,
  OperationHistoryStore,
  OperationHistoryStoreOptions,
  OperationRow,
} from './stores/operation-history.js';
