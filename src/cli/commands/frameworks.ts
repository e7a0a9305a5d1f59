import { requireString, type Command } from '../command.js';
import { mutationOptions, runMutation } from '../mutation.js';

const options = {
  id: { type: 'string' as const, value: 'framework', description: 'framework id from config/layers.yaml' },
  ...mutationOptions,
};

export const disableFrameworkCommand: Command = {
  name: 'disable-framework',
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
  usage: 'triad enable-framework --id R5_CROSS_INSTANCE_D1 [--reason "…"] [--json]',
  options,
  examples: ['triad enable-framework --id R5_CROSS_INSTANCE_D1'],
  run: (values, _p, io) =>
    runMutation(values, io, {
      framework: { framework_id: requireString(values, 'id', 'enable-framework'), enabled: true },
    }),
};
