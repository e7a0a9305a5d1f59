import { requireString, type Command } from '../command.js';
import { mutationOptions, runMutation } from '../mutation.js';

const options = {
  id: { type: 'string' as const, value: 'framework', description: 'framework id from config/layers.yaml' },
  ...mutationOptions,
};

export const disableFrameworkCommand: Command = {
  name: 'disable-framework',
  summary: 'Stop one framework on every instance (break-glass: no gates, no consensus wait).',
  usage: 'triad disable-framework --id R5_CROSS_INSTANCE_D1 [--reason "…"] [--json]',
  options,
  examples: ['triad disable-framework --id R5_CROSS_INSTANCE_D1 --reason "INC-42 error spike"'],
  run: (values, _p, io) =>
    runMutation(values, io, {
      framework: { framework_id: requireString(values, 'id', 'disable-framework'), enabled: false },
    }),
};

export const enableFrameworkCommand: Command = {
  name: 'enable-framework',
  summary: 'Let a disabled framework run again where its layer is active.',
  usage: 'triad enable-framework --id R5_CROSS_INSTANCE_D1 [--reason "…"] [--json]',
  options,
  examples: ['triad enable-framework --id R5_CROSS_INSTANCE_D1'],
  run: (values, _p, io) =>
    runMutation(values, io, {
      framework: { framework_id: requireString(values, 'id', 'enable-framework'), enabled: true },
    }),
};
