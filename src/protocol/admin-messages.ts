// TypeScript shapes of the triad.v1.Admin messages as @grpc/proto-loader delivers them (keepCase, longs as numbers).

export interface MutationOptions {
  dry_run: boolean;
  force: boolean;
  reason: string;
  label: string;
  timeout_ms: number;
  actor: string;
}

export interface MutationRequest {
  command?: 'activate' | 'deactivate' | 'framework' | 'rollback' | 'emergency_disable';
  activate?: { layers: string[]; instances: string[]; percentage: number } | null;
  deactivate?: { layers: string[]; instances: string[]; cascade: boolean } | null;
  framework?: { framework_id: string; enabled: boolean } | null;
  rollback?: { to: string } | null;
  emergency_disable?: Record<string, never> | null;
  options?: MutationOptions | null;
}

export interface WireTransition {
  instance: string;
  subject: string;
  action: string;
  from_percentage: number;
  to_percentage: number;
}

export interface WireGateCheck {
  instance: string;
  layer: string;
  check: string;
  status: string;
  measured: string;
  threshold: string;
  samples: number;
  detail: string;
}

export interface InstanceApply {
  instance: string;
  targeted: boolean;
  reachable: boolean;
  applied: boolean;
  applied_version: number;
  apply_ms: number;
  expected_ms: number;
  error: string;
}

export interface MutationPlan {
  command: string;
  before_version: number;
  after_version: number;
  transitions: WireTransition[];
  checks: WireGateCheck[];
  override: boolean;
  undo_command: string;
  dry_run: boolean;
  correlation_id: string;
  label: string;
  instances: InstanceApply[];
  detection_budgets: DetectionBudget[];
}

export interface DetectionBudget {
  layer: string;
  trigger_id: string;
  budget_ms: number;
  for_ms: number;
}

export interface MutationResult {
  plan: MutationPlan;
  instances: InstanceApply[];
  complete: boolean;
  duration_ms: number;
}

export interface MutationEvent {
  event?: 'committed' | 'progress' | 'result';
  committed?: MutationPlan | null;
  progress?: InstanceApply | null;
  result?: MutationResult | null;
}

export interface LayerHealth {
  layer: string;
  status: string;
  enabled_on: string[];
  applied_on: string[];
  has_amplification: boolean;
  amplification: number;
  acceptable_low: number;
  acceptable_high: number;
  alert_below: number;
  has_error_rate: boolean;
  error_rate: number;
  samples: number;
  problems: string[];
  instances: InstanceLayerHealth[];
}

export interface InstanceLayerHealth {
  instance: string;
  status: 'OK' | 'WARN' | 'FAIL' | 'UNKNOWN';
  has_amplification: boolean;
  amplification: number;
  has_error_rate: boolean;
  error_rate: number;
  samples: number;
  settled: boolean;
  problems: string[];
}

export interface HealthReport {
  layers: LayerHealth[];
  desired_version: number;
  consensus_error: number;
  consensus_converged: boolean;
  consensus_at_ms: number;
  unreachable: string[];
  healthy: boolean;
}

export interface VersionSummary {
  version: number;
  label: string;
  created_at_ms: number;
  created_by: string;
  command: string;
  reason: string;
  correlation_id: string;
  state_json: string;
  changes: WireTransition[];
}

export interface VerifyAuditReply {
  ok: boolean;
  rows: number;
  broken_at: number;
  reason: string;
}

export interface ApplyRequest {
  version: number;
}

export interface ApplyReply {
  instance: string;
  applied_version: number;
}

export interface R6Result {
  instance: string;
  operation_id: string;
  burden_saved_hours: number;
  has_amplification: boolean;
  amplification: number;
  duration_ms: number;
  success: boolean;
}

export interface InjectFaultRequest {
  instance: string;
  layer: string;
  error_rate: number;
  burden_scale: number;
  latency_ms: number;
  clear: boolean;
  actor: string;
  reason: string;
}

export interface LayerFault {
  layer: string;
  error_rate: number;
  burden_scale: number;
  latency_ms: number;
}

export interface InjectFaultReply {
  instance: string;
  faults: LayerFault[];
}

export interface ConsoleLoginRequest {
  role: string;
  ttl_ms: number;
}

export interface ConsoleLoginReply {
  url: string;
  token: string;
  role: string;
  name: string;
  login_expires_at_ms: number;
  session_expires_at_ms: number;
}
