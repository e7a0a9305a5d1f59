export { assertPortsFree } from './ports.js';
export type { PortClaim } from './ports.js';
export { probeReady, waitForReady } from './readiness-wait.js';
export type { ReadyProbeResult, WaitForReadyOptions } from './readiness-wait.js';
export { defaultBackoff, restartDelayMs, Supervisor } from './supervisor.js';
export type { BackoffPolicy, ChildSpec, SupervisorEvent, SupervisorOptions } from './supervisor.js';
