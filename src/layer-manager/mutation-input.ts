import { isLayerId, layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import { TriadError } from '../shared/index.js';

/** A desired-state change, validated: layer ids known, instances members of the cluster, percentage 1–100. */
export type Mutation =
  | { kind: 'activate'; layers: LayerId[]; instances: string[]; percentage: number }
  | { kind: 'deactivate'; layers: LayerId[]; instances: string[]; cascade: boolean }
  | { kind: 'framework'; frameworkId: string; enabled: boolean }
  | { kind: 'rollback'; to: { version: number } | { label: string } }
  | { kind: 'emergency_disable' };

/** A change as an operator or a plan names it, not yet checked (names are plain strings, absent means default). */
export type MutationInput =
  | { kind: 'activate'; layers: readonly string[]; instances?: readonly string[]; percentage?: number }
  | { kind: 'deactivate'; layers: readonly string[]; instances?: readonly string[]; cascade?: boolean }
  | { kind: 'framework'; frameworkId: string; enabled: boolean }
  | { kind: 'rollback'; to: string }
  | { kind: 'emergency_disable' };

/** Who asks for a change, why, and how it is to be carried out. */
export interface MutationOptions {
  /** Who made the change, as verified (a certificate subject): the audit row's actor and the version's created_by. */
  actor: string;
  /** Who the client says it acts for (its user@host): kept beside the actor, never instead of it. */
  onBehalfOf?: string;
  /** Ties the change to a ticket or pipeline; stored with the version and on every log line of the call. */
  correlationId: string;
  reason?: string;
  /** Override failing or inconclusive gates (needs a reason; audited as an override). */
  force?: boolean;
  /** Plan and check, change nothing. */
  dryRun?: boolean;
  /** Names the new version for `rollback --to-version`. */
  label?: string;
  /** How long to wait for the targeted instances to apply the version (default 30 s, at most 10 min). */
  timeoutMs?: number;
  /** Set by automatic rollback: counted in triad_rollbacks_total{reason} instead of "manual". */
  rollbackReason?: string;
}

export const defaultApplyTimeoutMs = 30_000;
const maxTimeoutMs = 10 * 60_000;
const labelPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Checks a change before anything is written (STYLE §3): everything wrong is reported with what was received and what
 * is allowed. The Admin edge, automatic rollback and rollout plans all come through here.
 */
export function parseMutation(
  input: MutationInput,
  context: { config: LayersConfig; instances: readonly string[] },
): Mutation {
  switch (input.kind) {
    case 'activate': {
      const percentage = input.percentage ?? 100;
      if (!Number.isInteger(percentage) || percentage < 1 || percentage > 100) {
        throw new TriadError(
          'INPUT_INVALID',
          `--percentage must be a whole number from 1 to 100, received ${percentage}`,
        );
      }
      return {
        kind: 'activate',
        layers: parseLayers(input.layers),
        instances: parseInstances(input.instances ?? [], context.instances),
        percentage,
      };
    }
    case 'deactivate':
      return {
        kind: 'deactivate',
        layers: parseLayers(input.layers),
        instances: parseInstances(input.instances ?? [], context.instances),
        cascade: input.cascade ?? false,
      };
    case 'framework': {
      const known = context.config.layers.flatMap((l) => l.frameworks.map((fw) => fw.id));
      if (!known.includes(input.frameworkId)) {
        const layer = /^R[1-6]/.exec(input.frameworkId)?.[0];
        const sameLayer = known.filter((id) => layer !== undefined && id.startsWith(`${layer}_`));
        const hint =
          sameLayer.length > 0 ? ` (frameworks of ${layer}: ${sameLayer.join(', ')})` : ` (known: ${known.join(', ')})`;
        throw new TriadError('INPUT_INVALID', `unknown framework "${input.frameworkId}"${hint}`);
      }
      return { kind: 'framework', frameworkId: input.frameworkId, enabled: input.enabled };
    }
    case 'rollback': {
      const to = input.to.trim();
      if (to === '')
        throw new TriadError('INPUT_INVALID', '--to-version needs a version number (e.g. 42) or a label (e.g. v1.4.0)');
      if (/^\d+$/.test(to)) {
        const version = Number(to);
        if (!Number.isSafeInteger(version)) throw new TriadError('INPUT_INVALID', `version ${to} is too large`);
        return { kind: 'rollback', to: { version } };
      }
      if (!labelPattern.test(to)) {
        throw new TriadError('INPUT_INVALID', `--to-version "${to}" is neither a version number nor a valid label`);
      }
      return { kind: 'rollback', to: { label: to } };
    }
    case 'emergency_disable':
      return { kind: 'emergency_disable' };
  }
}

/**
 * Holds a mutation built in code (automatic rollback, a rollout plan) to the same rules as one typed by an operator:
 * it names only layers, instances and frameworks that exist, and a percentage in range.
 */
export function checkMutation(m: Mutation, context: { config: LayersConfig; instances: readonly string[] }): Mutation {
  return m.kind === 'rollback' ? m : parseMutation(m, context);
}

/** Options with their rules applied and their defaults filled in. */
export interface CheckedOptions extends MutationOptions {
  force: boolean;
  dryRun: boolean;
  timeoutMs: number;
}

/** The options with their rules applied (a reason where one is owed, a valid label, a timeout in range). */
export function checkMutationOptions(mutation: Mutation, options: MutationOptions): CheckedOptions {
  const reason = options.reason?.trim() || undefined;
  const label = options.label?.trim() || undefined;
  if (options.force && !reason) {
    throw new TriadError('USAGE', '--force needs --reason "…": an override is audited with the reason it was made');
  }
  if (mutation.kind === 'emergency_disable' && !reason) {
    throw new TriadError(
      'USAGE',
      'emergency-disable needs --reason "…": it is the break-glass path and is audited with its reason',
    );
  }
  if (reason && reason.length > 500)
    throw new TriadError('INPUT_INVALID', `--reason is ${reason.length} characters; 500 at most`);
  if (label !== undefined && (!labelPattern.test(label) || /^\d+$/.test(label))) {
    throw new TriadError(
      'INPUT_INVALID',
      `--label "${label}" is not a valid label: letters, digits, ".", "_", "-", up to 64, starting with a letter or digit, and not only digits (those are version numbers)`,
    );
  }
  const timeoutMs = options.timeoutMs ?? defaultApplyTimeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > maxTimeoutMs) {
    throw new TriadError('INPUT_INVALID', `--timeout must be between 0 and ${maxTimeoutMs / 1000} seconds`);
  }
  const { reason: _reason, label: _label, ...rest } = options;
  return {
    ...rest,
    actor: options.actor.trim().slice(0, 200) || 'unknown',
    ...(options.onBehalfOf?.trim() ? { onBehalfOf: options.onBehalfOf.trim().slice(0, 200) } : {}),
    force: options.force ?? false,
    dryRun: options.dryRun ?? false,
    timeoutMs,
    ...(reason ? { reason } : {}),
    ...(label ? { label } : {}),
  };
}

function parseLayers(raw: readonly string[]): LayerId[] {
  const layers = raw.map((l) => l.trim()).filter((l) => l !== '');
  if (layers.length === 0)
    throw new TriadError('INPUT_INVALID', '--layers is empty: name at least one layer, e.g. --layers R1,R2');
  const unknown = layers.filter((l) => !isLayerId(l));
  if (unknown.length > 0) {
    throw new TriadError(
      'INPUT_INVALID',
      `unknown layer${unknown.length > 1 ? 's' : ''} ${quoteSome(unknown)} (layers: ${layerIds.join(', ')})`,
    );
  }
  const duplicate = layers.find((l, i) => layers.indexOf(l) !== i);
  if (duplicate) throw new TriadError('INPUT_INVALID', `layer ${duplicate} is named twice in --layers`);
  return (layers as LayerId[]).sort((a, b) => layerIds.indexOf(a) - layerIds.indexOf(b));
}

function parseInstances(raw: readonly string[], known: readonly string[]): string[] {
  const instances = raw.map((i) => i.trim()).filter((i) => i !== '');
  if (instances.length === 0) return [...known];
  const unknown = instances.filter((i) => !known.includes(i));
  if (unknown.length > 0) {
    throw new TriadError(
      'INPUT_INVALID',
      `unknown instance${unknown.length > 1 ? 's' : ''} ${quoteSome(unknown)} (instances: ${known.join(', ')})`,
    );
  }
  const duplicate = instances.find((l, i) => instances.indexOf(l) !== i);
  if (duplicate) throw new TriadError('INPUT_INVALID', `instance ${duplicate} is named twice in --instances`);
  return known.filter((k) => instances.includes(k));
}

/** The command line that would make this mutation: what history and the audit log show. */
export function describeMutation(m: Mutation, o: Pick<MutationOptions, 'label' | 'force' | 'reason'>): string {
  const flags: string[] = [];
  let name: string;
  switch (m.kind) {
    case 'activate':
      name = 'activate-layers';
      flags.push(`--layers ${m.layers.join(',')}`, `--instances ${m.instances.join(',')}`);
      if (m.percentage !== 100) flags.push(`--percentage ${m.percentage}`);
      break;
    case 'deactivate':
      name = 'deactivate-layers';
      flags.push(`--layers ${m.layers.join(',')}`, `--instances ${m.instances.join(',')}`);
      if (m.cascade) flags.push('--cascade');
      break;
    case 'framework':
      name = m.enabled ? 'enable-framework' : 'disable-framework';
      flags.push(`--id ${m.frameworkId}`);
      break;
    case 'rollback':
      name = 'rollback';
      flags.push(`--to-version ${'version' in m.to ? m.to.version : m.to.label}`);
      break;
    case 'emergency_disable':
      name = 'emergency-disable';
      break;
  }
  if (o.label) flags.push(`--label ${o.label}`);
  if (o.force) flags.push('--force');
  if (o.reason) flags.push(`--reason ${JSON.stringify(o.reason)}`);
  return [`triad ${name}`, ...flags].join(' ');
}

/** The first few names sent, quoted, and how many more: an error never echoes a whole hostile list back. */
function quoteSome(names: readonly string[], shown = 5): string {
  const quoted = names.slice(0, shown).map((n) => `"${n.length > 64 ? `${n.slice(0, 64)}…` : n}"`);
  return names.length > shown ? `${quoted.join(', ')} and ${names.length - shown} more` : quoted.join(', ');
}
