// The `triad` (alias `production_deploy`) entry point: dispatches to one command, maps failures to exit codes.
import { asTriadError, systemClock, triadVersion, TriadError } from '../shared/index.js';
import { formatHelp, parseCommandArgs, type CliIO, type CommandEntry } from './command.js';
import { commandRegistry } from './registry.js';

function findCommand(name: string): CommandEntry | undefined {
  return commandRegistry.find((c) => c.name === name || c.aliases?.includes(name));
}

function overview(): string {
  const width = Math.max(...commandRegistry.map((c) => c.name.length));
  return [
    `triad ${triadVersion}: multi-instance consensus cascade runtime`,
    '',
    'usage: triad <command> [options]      (also installed as production_deploy)',
    '',
    'commands:',
    ...commandRegistry.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'triad <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** Runs the CLI with injected I/O; resolves with the exit code instead of exiting, so tests can call it in process. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${triadVersion}\n`);
    return 0;
  }
  const entry = findCommand(name);
  const wantsJson = rest.includes('--json');
  try {
    if (!entry) throw new TriadError('USAGE', `unknown command "${name}"`);
    const command = await entry.load();
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      io.stdout.write(formatHelp(command, entry));
      return 0;
    }
    return await command.run(values, positionals, io);
  } catch (err) {
    const error = asTriadError(err);
    if (wantsJson) {
      const details = error.details !== undefined ? { details: error.details } : {};
      io.stdout.write(
        `${JSON.stringify({ error: { code: error.code, message: error.detail, ...details } }, null, 2)}\n`,
      );
    }
    io.stderr.write(`triad: ${error.message}\n`);
    if (!entry) io.stderr.write("Run 'triad --help' for the list of commands.\n");
    return error.exitCode;
  }
}

/** The process entry (bin/triad.js): real stdio and clock, exit code set when the command finishes. */
export function main(): void {
  const io: CliIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    clock: systemClock,
    interactive: process.stdout.isTTY,
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`triad: unexpected failure: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
