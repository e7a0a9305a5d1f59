import { TriadError } from '../../shared/index.js';
import { optionalString, type Command } from '../command.js';
import { mutationOptions, parseList, runMutation } from '../mutation.js';
import { activationPrecheck } from './precheck.js';

export const activateLayersCommand: Command = {
  name: 'activate-layers',
  usage:
    'triad activate-layers --layers R1,R2 [--instances alpha,beta] [--percentage 10] [--dry-run] [--force --reason "…"] [--skip-precheck --reason "…"] [--json]',
  options: {
    layers: {
      type: 'string',
      value: 'R1,R2',
      description: 'layers to activate (one rollout stage may go out together)',
    },
    instances: { type: 'string', value: 'list', description: 'instances to activate them on (default: all)' },
    percentage: {
      type: 'string',
      value: '1-100',
      description: 'share of operation keys the layers run for (default 100)',
    },
    ...mutationOptions,
    'skip-precheck': {
      type: 'boolean',
      description: 'do not run the cheap precheck first (needs --reason; recorded in the audit log)',
    },
  },
  examples: [
    'triad activate-layers --layers R1,R2 --instances alpha',
    'triad activate-layers --layers R3 --instances alpha --percentage 10 --dry-run',
    'triad activate-layers --layers R4 --force --reason "CHG-1234 approved early"',
  ],
  run: (values, _p, io) =>
    runMutation(
      values,
      io,
      {
        activate: {
          layers: parseList(values, 'layers', true),
          instances: parseList(values, 'instances', false),
          percentage: parsePercentage(optionalString(values, 'percentage')),
        },
      },
      { precheck: activationPrecheck },
    ),
};

export const deactivateLayersCommand: Command = {
  name: 'deactivate-layers',
  usage: 'triad deactivate-layers --layers R6 [--instances …] [--cascade] [--dry-run] [--json]',
  options: {
    layers: { type: 'string', value: 'R5,R6', description: 'layers to deactivate' },
    instances: { type: 'string', value: 'list', description: 'instances to deactivate them on (default: all)' },
    cascade: { type: 'boolean', description: 'also deactivate every active layer that requires them (R6 before R5 …)' },
    ...mutationOptions,
  },
  examples: ['triad deactivate-layers --layers R6', 'triad deactivate-layers --layers R4 --cascade --dry-run'],
  run: (values, _p, io) =>
    runMutation(values, io, {
      deactivate: {
        layers: parseList(values, 'layers', true),
        instances: parseList(values, 'instances', false),
        cascade: values.cascade === true,
      },
    }),
};

/** "10", "10%" → 10; absent → 0 (the server's "100"). Anything else is a usage error naming the flag. */
export function parsePercentage(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const match = /^(\d{1,3})%?$/.exec(raw.trim());
  const value = Number(match?.[1]);
  if (!match || value < 1 || value > 100) {
    throw new TriadError('INPUT_INVALID', `--percentage must be a whole number from 1 to 100, received "${raw}"`);
  }
  return value;
}
