import { isLayerId, layerIds, type LayerId, type LayersConfig } from '../config/index.js';
import type { MutationRequest } from '../protocol/index.js';
import { TriadError } from '../shared/index.js';

export type Mutation =
  | { kind: 'activate'; layers: LayerId[]; instances: string[]; percentage: number }
  | { kind: 'deactivate'; layers: LayerId[]; instances: string[]; cascade: boolean }
  | { kind: 'framework'; frameworkId: string; enabled: boolean }
  | { kind: 'rollback'; to: { version: number } | { label: string } }
  | { kind: 'emergency_disable' };

export interface MutationOptions {
  dryRun: boolean;
  force: boolean;
  reason: string | null;
  label: string | null;
  timeoutMs: number;
  actor: string;
}

export const defaultApplyTimeoutMs = 30_000;
const maxTimeoutMs = 10 * 60_000;
const labelPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Validates an Admin mutation at the edge (STYLE §3: inputs validated where they enter). Everything wrong is reported
 * with what was received and what is allowed; nothing is written before this passes.
 */
export function parseMutation(
  request: MutationRequest,
  context: { config: LayersConfig; instances: readonly string[] },
): { mutation: Mutation; options: MutationOptions } {
  const options = parseOptions(request);
  switch (request.command) {
    case 'activate': {
      const a = request.activate ?? { layers: [], instances: [], percentage: 0 };
      const percentage = a.percentage === 0 ? 100 : a.percentage;
      if (!Number.isInteger(percentage) || percentage < 1 || percentage > 100) {
        throw new TriadError(
          'INPUT_INVALID',
          `--percentage must be a whole number from 1 to 100, received ${a.percentage}`,
        );
      }
      return {
        mutation: {
          kind: 'activate',
          layers: parseLayers(a.layers),
          instances: parseInstances(a.instances, context.instances),
          percentage,
        },
        options,
      };
    }
    case 'deactivate': {
      const d = request.deactivate ?? { layers: [], instances: [], cascade: false };
      return {
        mutation: {
          kind: 'deactivate',
          layers: parseLayers(d.layers),
          instances: parseInstances(d.instances, context.instances),
          cascade: d.cascade,
        },
        options,
      };
    }
    case 'framework': {
      const f = request.framework ?? { framework_id: '', enabled: false };
      const known = context.config.layers.flatMap((l) => l.frameworks.map((fw) => fw.id));
      if (!known.includes(f.framework_id)) {
        const layer = /^R[1-6]/.exec(f.framework_id)?.[0];
        const sameLayer = known.filter((id) => layer !== undefined && id.startsWith(`${layer}_`));
        const hint =
          sameLayer.length > 0 ? ` (frameworks of ${layer}: ${sameLayer.join(', ')})` : ` (known: ${known.join(', ')})`;
        throw new TriadError('INPUT_INVALID', `unknown framework "${f.framework_id}"${hint}`);
      }
      return { mutation: { kind: 'framework', frameworkId: f.framework_id, enabled: f.enabled }, options };
    }
    case 'rollback': {
      const to = (request.rollback?.to ?? '').trim();
      if (to === '')
        throw new TriadError('INPUT_INVALID', '--to-version needs a version number (e.g. 42) or a label (e.g. v1.4.0)');
      if (/^\d+$/.test(to)) {
        const version = Number(to);
        if (!Number.isSafeInteger(version)) throw new TriadError('INPUT_INVALID', `version ${to} is too large`);
        return { mutation: { kind: 'rollback', to: { version } }, options };
      }
      if (!labelPattern.test(to)) {
        throw new TriadError('INPUT_INVALID', `--to-version "${to}" is neither a version number nor a valid label`);
      }
      return { mutation: { kind: 'rollback', to: { label: to } }, options };
    }
    case 'emergency_disable':
      if (!options.reason) {
        throw new TriadError(
          'USAGE',
          'emergency-disable needs --reason "…": it is the break-glass path and is audited with its reason',
        );
      }
      return { mutation: { kind: 'emergency_disable' }, options };
    default:
      throw new TriadError(
        'INPUT_INVALID',
        'the request names no command (activate, deactivate, framework, rollback, emergency_disable)',
      );
  }
}

function parseOptions(request: MutationRequest): MutationOptions {
  const o = request.options;
  const reason = (o?.reason ?? '').trim();
  const label = (o?.label ?? '').trim();
  if (o?.force && reason === '') {
    throw new TriadError('USAGE', '--force needs --reason "…": an override is audited with the reason it was made');
  }
  if (reason.length > 500)
    throw new TriadError('INPUT_INVALID', `--reason is ${reason.length} characters; 500 at most`);
  if (label !== '' && (!labelPattern.test(label) || /^\d+$/.test(label))) {
    throw new TriadError(
      'INPUT_INVALID',
      `--label "${label}" is not a valid label: letters, digits, ".", "_", "-", up to 64, starting with a letter or digit, and not only digits (those are version numbers)`,
    );
  }
  const timeoutMs = o?.timeout_ms ? o.timeout_ms : defaultApplyTimeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > maxTimeoutMs) {
    throw new TriadError('INPUT_INVALID', `--timeout must be between 0 and ${maxTimeoutMs / 1000} seconds`);
  }
  return {
    dryRun: o?.dry_run ?? false,
    force: o?.force ?? false,
    reason: reason === '' ? null : reason,
    label: label === '' ? null : label,
    timeoutMs,
    actor: (o?.actor ?? '').trim().slice(0, 200) || 'unknown',
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
      `unknown layer${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (layers: ${layerIds.join(', ')})`,
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
      `unknown instance${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (instances: ${known.join(', ')})`,
    );
  }
  const duplicate = instances.find((l, i) => instances.indexOf(l) !== i);
  if (duplicate) throw new TriadError('INPUT_INVALID', `instance ${duplicate} is named twice in --instances`);
  return known.filter((k) => instances.includes(k));
}

/** The command line that would make this mutation: what history and the audit log show. */
export function describeMutation(m: Mutation, o: MutationOptions): string {
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
