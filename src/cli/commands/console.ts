import { formatDurationMs, parseDurationMs } from '../../config/index.js';
import type { ConsoleLoginReply, ConsoleLoginRequest } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import { configOption, jsonOption, optionalString, targetOption, writeJson, type Command } from '../command.js';

/** `triad console login`: a one-time sign-in URL for the browser console of the node it reaches. */
export const consoleCommand: Command = {
  name: 'console',
  usage: 'triad console login [--role viewer|operator] [--ttl 4h] [--json]',
  options: {
    role: {
      type: 'string',
      value: 'viewer|operator',
      description: 'what the session may do (operator needs an operator certificate)',
      default: 'viewer',
    },
    ttl: { type: 'string', value: 'duration', description: 'how long the session lasts: 1m to 4h', default: '4h' },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  positionals: [{ name: 'login', description: 'print a one-time URL that signs a browser in to the console' }],
  examples: [
    'triad console login --role operator',
    'triad console login --role viewer --ttl 30m --target 127.0.0.1:50052',
  ],
  async run(values, positionals, io) {
    if (positionals[0] !== 'login' || positionals.length !== 1)
      throw new TriadError(
        'USAGE',
        `expected "triad console login", received "triad console ${positionals.join(' ')}"`,
      );
    const role = optionalString(values, 'role') ?? 'viewer';
    if (role !== 'viewer' && role !== 'operator')
      throw new TriadError('INPUT_INVALID', `--role must be viewer or operator, received "${role.slice(0, 32)}"`);
    const ttlText = optionalString(values, 'ttl') ?? '4h';
    const ttlMs = parseDurationMs(ttlText);
    if (ttlMs === undefined || ttlMs < 60_000 || ttlMs > 4 * 3_600_000)
      throw new TriadError(
        'INPUT_INVALID',
        `--ttl must be a duration from 1m to 4h, received "${ttlText.slice(0, 32)}"`,
      );
    const { response } = await callAdmin<ConsoleLoginRequest, ConsoleLoginReply>(
      values,
      io,
      'ConsoleLogin',
      { role, ttl_ms: ttlMs },
      10_000,
    );
    if (values.json) {
      writeJson(io, response);
      return 0;
    }
    const loginSeconds = Math.round((response.login_expires_at_ms - io.clock.now()) / 1000);
    io.stdout.write(
      [
        `open this once within ${loginSeconds > 0 ? formatDurationMs(loginSeconds * 1000) : 'a few minutes'} (it signs in one browser, then stops working):`,
        `  ${response.url}`,
        `session: ${response.role} as ${response.name}, ends ${new Date(response.session_expires_at_ms).toISOString()}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
