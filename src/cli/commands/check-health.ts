import { layerIds } from '../../config/index.js';
import type { HealthReport } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import { configOption, jsonOption, optionalString, targetOption, writeJson, type Command } from '../command.js';
import { formatTable } from '../table.js';

export const checkHealthCommand: Command = {
  name: 'check-health',
  usage: 'triad check-health --layers all|R1,R2 (or --all-layers) [--json]',
  options: {
    layers: { type: 'string', value: 'all|R1,R2', description: 'layers to check', default: 'all' },
    'all-layers': { type: 'boolean', description: 'same as --layers all (the operations plan spelling)' },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  examples: ['triad check-health --layers R1,R2', 'triad check-health --all-layers --json'],
  async run(values, _p, io) {
    const raw = values['all-layers'] === true ? 'all' : (optionalString(values, 'layers') ?? 'all');
    const layers = raw === 'all' ? [] : raw.split(',').map((l) => l.trim());
    const unknown = layers.filter((l) => !(layerIds as readonly string[]).includes(l));
    if (unknown.length > 0 || layers.some((l) => l === '')) {
      throw new TriadError(
        'INPUT_INVALID',
        `--layers expects "all" or layers from ${layerIds.join(', ')}, received "${raw}"`,
      );
    }
    const { response: report } = await callAdmin<{ layers: string[] }, HealthReport>(
      values,
      io,
      'CheckHealth',
      { layers },
      10_000,
    );
    if (values.json) writeJson(io, report);
    else io.stdout.write(render(report));
    return report.healthy ? 0 : 1;
  },
};

function render(r: HealthReport): string {
  const rows = r.layers.map((l) => [
    l.layer,
    l.status,
    l.enabled_on.join(',') || '-',
    l.applied_on.join(',') || '-',
    l.has_amplification ? `${l.amplification.toFixed(2)}` : '-',
    l.acceptable_high ? `${l.acceptable_low}–${l.acceptable_high}` : '-',
    l.has_error_rate ? `${(l.error_rate * 100).toFixed(2)}%` : '-',
    l.samples ? String(l.samples) : '-',
    l.problems.join('; '),
  ]);
  const consensus = r.consensus_at_ms
    ? `consensus error ${r.consensus_error.toExponential(2)} (${r.consensus_converged ? 'converged' : 'NOT converged'})`
    : 'consensus: no epoch yet';
  // Each instance on its own figures: the cluster's agreed mean above can look fine while one instance is not.
  const perInstance = r.layers.flatMap((l) =>
    (l.instances ?? []).map((i) => [
      l.layer,
      i.instance,
      i.status,
      i.has_amplification ? i.amplification.toFixed(2) : '-',
      i.has_error_rate ? `${(i.error_rate * 100).toFixed(2)}%` : '-',
      String(i.samples),
      i.problems.map((p) => p.replace(`${i.instance}: `, '')).join('; '),
    ]),
  );
  return [
    `desired state v${r.desired_version} · ${consensus}${r.unreachable.length ? ` · unreachable: ${r.unreachable.join(', ')}` : ''}`,
    '',
    formatTable(
      ['LAYER', 'STATUS', 'ENABLED ON', 'RUNNING ON', 'AMPLIFICATION', 'ACCEPTABLE', 'ERRORS', 'SAMPLES', 'PROBLEMS'],
      rows,
    ),
    ...(perInstance.length > 0
      ? [
          '',
          'per instance:',
          formatTable(['LAYER', 'INSTANCE', 'STATUS', 'AMPLIFICATION', 'ERRORS', 'SAMPLES', 'NOTES'], perInstance),
        ]
      : []),
    r.healthy ? 'healthy' : 'NOT healthy',
    '',
  ].join('\n');
}
