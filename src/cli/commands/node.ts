import { configOption, requireString, type Command } from '../command.js';

export const nodeCommand: Command = {
  name: 'node',
  usage: 'triad node --instance <name> [--config <file>] [--insecure]',
  options: {
    instance: { type: 'string', value: 'name', description: 'which instance of the cluster config this node is' },
    insecure: {
      type: 'boolean',
      description: 'plaintext gRPC, no certificates (refused unless every instance is on loopback)',
    },
    ...configOption,
  },
  examples: ['triad node --instance alpha', 'triad node --instance beta --config config/cluster.yaml'],
  async run(values, _positionals, io) {
    const instance = requireString(values, 'instance', 'node');
    const configPath = typeof values.config === 'string' ? values.config : undefined;
    // Loaded here, not at the top: every other command would otherwise pay for loading the whole node.
    const { runNode } = await import('../../main.js');
    return runNode({
      instance,
      env: io.env,
      cwd: io.cwd,
      ...(configPath ? { configPath } : {}),
      ...(values.insecure === true ? { insecure: true } : {}),
    });
  },
};
