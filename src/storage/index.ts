export { createConsensusJournal } from './consensus-journal.js';
export type { ConsensusJournal, ConsensusJournalOptions } from './consensus-journal.js';
export { defaultEmbeddedPort, runningEmbeddedUrl, startEmbeddedPostgres } from './embedded.js';
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
export {
  appendAudit,
  auditHash,
  auditMac,
  canonicalJson,
  genesisHash,
  rowHashMatches,
  toHashInput,
} from './stores/audit-log.js';
export type { AuditEntry, AuditHashInput, AuditKey, AuditRecord, AuditRow, HashAlg } from './stores/audit-log.js';
export {
  anchorOf,
  checkVersionSeal,
  parseAnchor,
  sealCommand,
  sealLegacyRows,
  verifyAudit,
} from './stores/audit-verify.js';
export type { AuditAnchor, AuditVerification, VersionSeal } from './stores/audit-verify.js';
export { consensusMeasurementStore } from './stores/consensus-measurements.js';
export type { ConsensusMeasurementRow, ConsensusMeasurementStore } from './stores/consensus-measurements.js';
export { createDesiredStateVersionStore, versionHash } from './stores/desired-state-versions.js';
export type { DesiredStateVersionStore, RawVersionRow, VersionRow } from './stores/desired-state-versions.js';
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
export { activeRunStatuses, createRolloutStore } from './stores/rollouts.js';
export type {
  DeliveryRow,
  DeliveryState,
  EventRow,
  MeasurementPhase,
  MeasurementRow,
  PlanRow,
  RolloutStore,
  RunPatch,
  RunRow,
  RunStatus,
  StepRow,
} from './stores/rollouts.js';
export {
  deploymentLockHolders,
  migrationStatus,
  openAlerts,
  rowCounts,
  serverFacts,
  versionsWithoutAudit,
} from './inspect.js';
export type { MigrationStatus, OpenAlert } from './inspect.js';
export { backupHistoryStore } from './stores/backup-history.js';
export type { BackupHistoryStore, BackupRecord } from './stores/backup-history.js';
export { backupFormat, checkBackupFile, dumpDatabase, nonEmptyTables, restoreDatabase } from './dump.js';
export type { BackupManifest, BackupResult, RestoreOptions } from './dump.js';
export { ensureOperationPartitions, listOperationPartitions, partitionDay, pruneOperations } from './partitions.js';
