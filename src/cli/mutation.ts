import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import {
  callServerStream,
  type InstanceApply,
  type MutationEvent,
  type MutationPlan,
  type MutationRequest,
  type MutationResult,
  type WireGateCheck,
} from '../protocol/index.js';
import { formatDurationMs } from '../config/index.js';
import { TriadError } from '../shared/index.js';
import { withAdmin } from './cluster-client.js';
import {
  configOption,
  optionalString,
  targetOption,
  type CliIO,
  type OptionSpec,
  type ParsedValues,
} from './command.js';
import { formatTable } from './table.js';

/** What a precheck hook reports: the failing checks (operations/checks.ts CheckResult's shape). */
export interface PrecheckFinding {
  id: string;
  status: string;
  value: string;
  detail?: string;
}

/** The flags every desired-state change takes (DESIGN §5). */
export const mutationOptions: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print the result as JSON on stdout' },
  'dry-run': { type: 'boolean', description: 'print the plan (version diff and every check) and change nothing' },
  force: { type: 'boolean', description: 'override failing or inconclusive gates (needs --reason; audited)' },
  reason: { type: 'string', value: 'text', description: 'why: stored in history and the audit log' },
  label: { type: 'string', value: 'name', description: 'name the new version (e.g. v1.4.0) for rollback --to-version' },
  'correlation-id': {
    type: 'string',
    value: 'id',
    description: 'ties this change to your ticket or pipeline (generated if absent)',
  },
  timeout: {
    type: 'string',
    value: 'seconds',
    description: 'how long to wait for the instances to apply it',
    default: '30',
  },
  ...targetOption,
  ...configOption,
};

/** `--layers R1,R2` style lists: trimmed, empty entries refused with the flag's name. */
export function parseList(values: ParsedValues, name: string, required: boolean): string[] {
  const raw = optionalString(values, name);
  if (raw === undefined) {
    if (required) throw new TriadError('USAGE', `missing --${name}`);
    return [];
  }
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((i) => i === ''))
    throw new TriadError('INPUT_INVALID', `--${name} expects names separated by commas, received "${raw}"`);
  return items;
}

/**
 * Sends one change and follows it: the plan and checks, each instance applying it, the outcome. Exit 0 when every
 * targeted instance applied it, 1 when some did not before --timeout (named), 3 when a gate or the lock refused it.
 */
export async function runMutation(
  values: ParsedValues,
  io: CliIO,
  command: Omit<MutationRequest, 'options'>,
  hooks: { precheck?: (values: ParsedValues, io: CliIO) => Promise<PrecheckFinding[]> } = {},
): Promise<number> {
  const timeout = Number(values.timeout ?? '30');
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 600) {
    throw new TriadError(
      'USAGE',
      `--timeout must be a number of seconds from 0 to 600, received "${String(values.timeout)}"`,
    );
  }
  const correlationId = optionalString(values, 'correlation-id') ?? randomUUID();
  if (!/^[\w.:-]{1,128}$/.test(correlationId)) {
    throw new TriadError(
      'USAGE',
      `--correlation-id may hold letters, digits, "_", "-", ".", ":" (up to 128), received "${correlationId}"`,
    );
  }
  const json = values.json === true;
  let reason = optionalString(values, 'reason') ?? '';
  // Day-2 precheck before a real change (a dry run changes nothing, so it is not held up by one).
  if (hooks.precheck && values['dry-run'] !== true) reason = await gateOnPrecheck(hooks.precheck, values, io, reason);
  const request: MutationRequest = {
    ...command,
    options: {
      dry_run: values['dry-run'] === true,
      force: values.force === true,
      reason,
      label: optionalString(values, 'label') ?? '',
      timeout_ms: Math.round(timeout * 1000),
      actor: `${userInfo().username}@${hostname()}`,
    },
  };
  if (!json) io.stderr.write(`correlation id: ${correlationId}\n`);
  let result: MutationResult | undefined;
  try {
    await withAdmin(values, io, (client) =>
      callServerStream<MutationRequest, MutationEvent>(client, 'Mutate', request, {
        deadlineMs: timeout * 1000 + 15_000,
        context: { correlation_id: correlationId },
        onMessage: (event) => {
          if (event.committed && !json) io.stdout.write(renderPlan(event.committed, false));
          if (event.progress && !json) io.stdout.write(renderProgress(event.progress));
          if (event.result) result = event.result;
        },
      }),
    );
  } catch (err) {
    if (err instanceof TriadError && err.code === 'GATE_REFUSED' && !json) {
      const checks = (err.details as { checks?: WireGateCheck[] } | undefined)?.checks ?? [];
      io.stdout.write(`refused by the gates (nothing was changed):\n${renderChecks(checks)}`);
    }
    throw err;
  }
  if (!result) throw new TriadError('INTERNAL', 'the node ended the change without a result');
  const changed = !result.plan.dry_run && result.plan.after_version > result.plan.before_version;
  const pending = changed ? result.instances.filter((i) => i.targeted && !i.applied).map((i) => i.instance) : [];
  if (json) io.stdout.write(`${JSON.stringify({ correlation_id: correlationId, ...result }, null, 2)}\n`);
  else io.stdout.write(renderResult(result));
  if (pending.length > 0) {
    io.stderr.write(
      `triad: [TIMEOUT] ${pending.join(', ')} did not apply v${result.plan.after_version} within ${timeout}s\n`,
    );
    return 1;
  }
  return 0;
}

function renderPlan(plan: MutationPlan, dryRun: boolean): string {
  const lines = [
    `${plan.command}`,
    `version: v${plan.before_version} → v${plan.after_version}${plan.label ? ` (${plan.label})` : ''}${plan.override ? '  GATES OVERRIDDEN (--force)' : ''}`,
  ];
  if (plan.transitions.length > 0) {
    lines.push('plan (in this order):');
    lines.push(
      indent(
        formatTable(
          ['INSTANCE', 'SUBJECT', 'ACTION', 'ROLLOUT', ...(dryRun ? ['EXPECTED'] : [])],
          plan.transitions.map((t) => {
            const expected = plan.instances.find((i) => i.instance === t.instance)?.expected_ms;
            return [
              t.instance,
              t.subject,
              t.action,
              t.action.endsWith('framework') ? '-' : `${t.from_percentage}% → ${t.to_percentage}%`,
              ...(dryRun ? [expected !== undefined ? `~${expected} ms` : '-'] : []),
            ];
          }),
        ),
      ),
    );
  } else lines.push('plan: nothing changes');
  if (plan.checks.length > 0) lines.push('checks:', renderChecks(plan.checks).trimEnd());
  if (dryRun && plan.detection_budgets.length > 0) {
    // Fastest trigger per layer first: how long a failing layer would run before it is rolled back by itself.
    lines.push('detection budget (window + for: + evaluation interval, per rollback trigger):');
    for (const b of plan.detection_budgets) {
      lines.push(
        `  ${b.layer}  ${formatDurationMs(b.budget_ms).padStart(7)}  ${b.trigger_id} (for ${formatDurationMs(b.for_ms)})`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function renderChecks(checks: readonly WireGateCheck[]): string {
  return indent(
    formatTable(
      ['STATUS', 'CHECK', 'LAYER', 'INSTANCE', 'MEASURED', 'NEEDS', 'SAMPLES', 'DETAIL'],
      checks.map((c) => [
        c.status,
        c.check,
        c.layer,
        c.instance,
        c.measured,
        c.threshold,
        c.samples ? String(c.samples) : '-',
        c.detail,
      ]),
    ),
  );
}

function renderProgress(p: InstanceApply): string {
  const what = p.applied
    ? `applied v${p.applied_version} in ${p.apply_ms.toFixed(1)} ms`
    : `NOT applied${p.error ? `: ${p.error}` : ''}`;
  return `  ${p.instance.padEnd(10)} ${what}${p.targeted ? '' : ' (not changed by this version)'}\n`;
}

function renderResult(r: MutationResult): string {
  if (r.plan.dry_run) {
    return `${renderPlan(r.plan, true)}dry run: nothing was written${r.plan.checks.some((c) => c.status !== 'PASS') ? ' (the gates above would refuse it without --force)' : ''}\n`;
  }
  if (r.plan.after_version === r.plan.before_version)
    return `${renderPlan(r.plan, false)}nothing to change: desired state is already v${r.plan.before_version}\n`;
  const targeted = r.instances.filter((i) => i.targeted);
  const done = targeted.filter((i) => i.applied).length;
  const unreachable = r.instances.filter((i) => !i.reachable).map((i) => i.instance);
  return [
    `${done}/${targeted.length} targeted instance${targeted.length === 1 ? '' : 's'} applied v${r.plan.after_version} in ${r.duration_ms.toFixed(1)} ms${unreachable.length ? `; unreachable: ${unreachable.join(', ')}` : ''}`,
    `undo: ${r.plan.undo_command}`,
    '',
  ].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}

/**
 * Runs the cheap precheck before a change (activate-layers, rollout start) and refuses with the failing checks.
 * Skipping it is allowed with a reason, which then says so in the history and the audit row: the reason returned.
 */
export async function gateOnPrecheck(
  precheck: (values: ParsedValues, io: CliIO) => Promise<PrecheckFinding[]>,
  values: ParsedValues,
  io: CliIO,
  reason: string,
): Promise<string> {
  if (values['skip-precheck'] === true) {
    if (!reason) throw new TriadError('USAGE', '--skip-precheck needs --reason "…" (recorded in the audit log)');
    return `precheck skipped: ${reason}`;
  }
  const failing = await precheck(values, io);
  if (failing.length === 0) return reason;
  if (values.json !== true) {
    io.stdout.write(
      `precheck failed (nothing was changed):\n${formatTable(
        ['CHECK', 'STATUS', 'VALUE', 'DETAIL'],
        failing.map((r) => [r.id, r.status, r.value, r.detail ?? '']),
      )}\n`,
    );
  }
  throw new TriadError(
    'PRECHECK_FAILED',
    `precheck failed: ${failing.map((r) => `${r.id} (${r.value}${r.detail ? `: ${r.detail}` : ''})`).join(', ')}; fix it, or pass --skip-precheck --reason "…" (audited)`,
    { details: { checks: failing } },
  );
}
