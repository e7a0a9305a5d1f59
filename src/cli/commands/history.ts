import type { VersionSummary } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import { configOption, jsonOption, optionalString, targetOption, writeJson, type Command } from '../command.js';
import { formatTable } from '../table.js';

export const historyCommand: Command = {
  name: 'history',
  usage: 'triad history [--limit N] [--json]',
  options: {
    limit: { type: 'string', value: 'N', description: 'how many versions', default: '20' },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  examples: ['triad history', 'triad history --limit 5 --json'],
  async run(values, _p, io) {
    const raw = optionalString(values, 'limit') ?? '20';
    const limit = Number(raw);
    if (!/^\d+$/.test(raw) || limit < 1 || limit > 1000)
      throw new TriadError('INPUT_INVALID', `--limit must be from 1 to 1000, received "${raw}"`);
    const { response } = await callAdmin<{ limit: number }, { versions: VersionSummary[] }>(
      values,
      io,
      'History',
      { limit },
      10_000,
    );
    if (values.json) {
      writeJson(io, {
        versions: response.versions.map((v) => ({
          ...v,
          state: JSON.parse(v.state_json) as unknown,
          state_json: undefined,
        })),
      });
      return 0;
    }
    if (response.versions.length === 0) {
      io.stdout.write('no versions yet: every layer is off (version 0)\n');
      return 0;
    }
    const rows = response.versions.map((v) => [
      `v${v.version}`,
      v.label || '-',
      new Date(v.created_at_ms).toISOString().replace('T', ' ').slice(0, 19),
      v.created_by,
      v.command.replace(/^triad /, ''),
      summarise(v),
      v.reason || '-',
    ]);
    io.stdout.write(formatTable(['VERSION', 'LABEL', 'CREATED (UTC)', 'BY', 'COMMAND', 'CHANGES', 'REASON'], rows));
    return 0;
  },
};

function summarise(v: VersionSummary): string {
  if (v.changes.length === 0) return '-';
  const parts = v.changes.map((c) =>
    c.action === 'activate'
      ? `+${c.subject}@${c.instance}${c.to_percentage === 100 ? '' : `(${c.to_percentage}%)`}`
      : c.action === 'deactivate'
        ? `-${c.subject}@${c.instance}`
        : c.action === 'percentage'
          ? `${c.subject}@${c.instance} ${c.from_percentage}→${c.to_percentage}%`
          : `${c.action === 'disable_framework' ? '-' : '+'}${c.subject}`,
  );
  return parts.length > 6 ? `${parts.slice(0, 6).join(' ')} …(+${parts.length - 6})` : parts.join(' ');
}
