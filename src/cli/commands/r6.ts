import { hostname, userInfo } from 'node:os';
import type { R6Result } from '../../protocol/index.js';
import { callAdmin } from '../cluster-client.js';
import { configOption, jsonOption, targetOption, writeJson, type Command } from '../command.js';

export const runR6Command: Command = {
  name: 'run-r6-orchestration',
  usage: 'triad run-r6-orchestration [--json] [--target <host:port>]',
  options: { ...jsonOption, ...targetOption, ...configOption },
  examples: ['triad run-r6-orchestration'],
  async run(values, _p, io) {
    const { response: r } = await callAdmin<{ actor: string }, R6Result>(
      values,
      io,
      'RunR6Orchestration',
      { actor: `${userInfo().username}@${hostname()}` },
      30_000,
    );
    if (values.json) writeJson(io, r);
    else {
      io.stdout.write(
        `R6 strategic orchestration ran on ${r.instance} (the leader): ${r.success ? 'succeeded' : 'FAILED'}, ${r.burden_saved_hours.toFixed(2)} h saved in ${r.duration_ms.toFixed(1)} ms` +
          `${r.has_amplification ? `, ε = ${r.amplification.toFixed(2)}` : ''} (operation ${r.operation_id})\n`,
      );
    }
    return r.success ? 0 : 1;
  },
};
