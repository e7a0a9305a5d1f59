import type { EpochOutcome, ForceConsensusSyncRequest } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import { configOption, jsonOption, optionalString, targetOption, writeJson, type Command } from '../command.js';
import { formatTable } from '../table.js';

export const forceConsensusSyncCommand: Command = {
  name: 'force-consensus-sync',
  usage: 'triad force-consensus-sync [--instances alpha,beta,gamma] [--json] [--target <host:port>]',
  options: {
    instances: { type: 'string', value: 'list', description: 'comma-separated instances to include (default: all)' },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  examples: ['triad force-consensus-sync', 'triad force-consensus-sync --instances alpha,beta,gamma --json'],
  async run(values, _positionals, io) {
    const list = optionalString(values, 'instances');
    const instances = list === undefined ? [] : list.split(',').map((s) => s.trim());
    if (instances.some((i) => i === '')) {
      throw new TriadError('USAGE', `--instances expects names separated by commas, received "${list}"`);
    }
    const { response: outcome } = await callAdmin<ForceConsensusSyncRequest, EpochOutcome>(
      values,
      io,
      'ForceConsensusSync',
      { instances },
      30_000,
    );
    const failed = outcome.members.filter((m) => !m.reachable || m.error >= outcome.epsilon).map((m) => m.member);
    if (values.json) writeJson(io, toJson(outcome, failed));
    else io.stdout.write(render(outcome));
    if (failed.length > 0) {
      io.stderr.write(
        `triad: [NOT_CONVERGED] epoch ${outcome.epoch_id} did not converge: ${failed.join(', ')} ${failed.length > 1 ? 'are' : 'is'} not within ε ${outcome.epsilon}\n`,
      );
      return 1;
    }
    return 0;
  },
};

function toJson(outcome: EpochOutcome, failed: string[]) {
  return {
    epoch_id: outcome.epoch_id,
    initiator: outcome.initiator,
    topology: outcome.topology,
    converged: outcome.converged,
    error: outcome.error,
    epsilon: outcome.epsilon,
    time_seconds: outcome.time_seconds,
    rounds: outcome.rounds,
    lambda2: outcome.lambda2,
    step: outcome.step,
    unreachable: outcome.unreachable,
    failed,
    instances: outcome.members.map((m) => ({
      instance: m.member,
      reachable: m.reachable,
      error: m.error,
      divergence: m.divergence,
      rounds: m.rounds_run,
      value: Object.fromEntries(outcome.vector_keys.map((k, i) => [k, m.final[i] ?? null])),
    })),
  };
}

function render(outcome: EpochOutcome): string {
  const rows = outcome.members.map((m) => [
    m.member,
    m.reachable ? 'yes' : 'no',
    m.reachable ? Math.max(0, ...m.final.map(Math.abs)).toPrecision(6) : '-',
    m.error.toExponential(2),
    m.divergence.toExponential(2),
    String(m.rounds_run),
  ]);
  const status = outcome.converged ? 'converged' : 'NOT converged';
  return [
    `epoch ${outcome.epoch_id} on ${outcome.topology}: ${status} in ${(outcome.time_seconds * 1000).toFixed(2)} ms, ${outcome.rounds} round(s), step ${outcome.step.toPrecision(4)}, λ₂ ${outcome.lambda2.toPrecision(4)}`,
    `error ${outcome.error.toExponential(2)} (ε ${outcome.epsilon})${outcome.unreachable.length ? `; unreachable: ${outcome.unreachable.join(', ')}` : ''}`,
    '',
    formatTable(['INSTANCE', 'REACHABLE', 'VALUE ‖x‖∞', 'ERROR', 'DIVERGENCE', 'ROUNDS'], rows),
  ].join('\n');
}
