export { Readiness } from './readiness.js';
export type { CheckResult, ReadinessCheck, ReadinessReport } from './readiness.js';
