export { repeatEvery, systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { asTriadError, ConfigError, errorKinds, isErrorCode, TriadError } from './errors.js';
export type { ConfigIssue, ErrorCode, TriadErrorOptions } from './errors.js';
export { callContext, createLogger, newTraceId } from './logger.js';
export type { CallContext, Logger, LoggerOptions } from './logger.js';
export { projectRoot, triadVersion } from './version.js';
