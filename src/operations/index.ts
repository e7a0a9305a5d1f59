export {
  cheapChecks,
  checkIds,
  defaultBounds,
  judgeAlerts,
  judgeBackup,
  judgeCertificates,
  judgeClockSkew,
  judgeConsensus,
  judgeDisk,
  judgeLock,
  judgeMigrations,
  judgeNodes,
  precheckExitCode,
} from './checks.js';
export type { CheckId, CheckResult, CheckStatus, NodeFact, PrecheckBounds } from './checks.js';
export { certificateExpiries, checkPrometheus, checkRedis, freeBytes, verifyAudit } from './probes.js';
export { verifyDatabase } from './verify-database.js';
export type { DatabaseVerification } from './verify-database.js';
export { defaultRetention, expiredPartitions, retentionPolicy, runRetention, startRetention } from './retention.js';
export type { RetentionDeps, RetentionPolicy } from './retention.js';
