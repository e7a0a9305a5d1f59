import { requireString, type Command } from '../command.js';
import { mutationOptions, runMutation } from '../mutation.js';

export const rollbackCommand: Command = {
  name: 'rollback',
  usage: 'triad rollback --to-version 42|v1.4.0 [--dry-run] [--reason "…"] [--json]',
  options: {
    'to-version': {
      type: 'string',
      value: 'N|label',
      description: 'the version to restore (triad history lists them; 0 is all off)',
    },
    ...mutationOptions,
  },
  examples: ['triad rollback --to-version v1.4.0', 'triad rollback --to-version 41 --dry-run'],
  run: (values, _p, io) =>
    runMutation(values, io, { rollback: { to: requireString(values, 'to-version', 'rollback') } }),
};

export const emergencyDisableCommand: Command = {
  name: 'emergency-disable',
  usage: 'triad emergency-disable --reason "…" [--json]',
  options: mutationOptions,
  examples: ['triad emergency-disable --reason "INC-77 runaway R5 orchestration"'],
  run: (values, _p, io) => {
    requireString(values, 'reason', 'emergency-disable');
    return runMutation(values, io, { emergency_disable: {} });
  },
};
