import type { VerifyAuditReply } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import { configOption, jsonOption, targetOption, writeJson, type Command } from '../command.js';

export const auditCommand: Command = {
  name: 'audit',
  usage: 'triad audit verify [--json]',
  options: { ...jsonOption, ...targetOption, ...configOption },
  positionals: [{ name: 'verify', description: 'check the hash chain and name the first broken row' }],
  examples: ['triad audit verify'],
  async run(values, positionals, io) {
    if (positionals[0] !== 'verify') {
      throw new TriadError('USAGE', `expected "triad audit verify", received "triad audit ${positionals.join(' ')}"`);
    }
    const { response } = await callAdmin<object, VerifyAuditReply>(values, io, 'VerifyAudit', {}, 30_000);
    if (values.json) writeJson(io, response);
    else if (response.ok)
      io.stdout.write(`audit log intact: ${response.rows} rows, every hash links to the one before\n`);
    if (!response.ok) {
      throw new TriadError('INTERNAL', `audit log broken at row ${response.broken_at}: ${response.reason}`);
    }
    return 0;
  },
};
