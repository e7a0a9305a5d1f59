import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TriadError, type Clock } from '../shared/index.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given more than once (`--operator alice --operator bob`): the value is a list. */
  multiple?: boolean;
  short?: string;
  /** Shown in --help, e.g. "host:port". */
  value?: string;
  description: string;
  default?: string | boolean;
}

/** What a command may touch: injected so tests run commands in process with captured output. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  clock: Clock;
  /** True when stdout is a terminal: progress lines are drawn only then. */
  interactive: boolean;
}

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  /** The synopsis line(s) after "usage:". */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments allowed (e.g. `consensus analyze`); none by default. */
  positionals?: { name: string; description: string }[];
  examples?: readonly string[];
  /** Resolves to the process exit code; throws TriadError for failures with a stable code. */
  run(values: ParsedValues, positionals: string[], io: CliIO): Promise<number>;
}

/**
 * What the CLI knows of a command before loading it: `triad --help` lists every command, and each invocation loads
 * only its own module (loading them all would cost every invocation ~150 ms of imports: grpc, pg, zod, …).
 */
export interface CommandEntry {
  name: string;
  aliases?: readonly string[];
  summary: string;
  load: () => Promise<Command>;
}

export const jsonOption: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print machine-readable JSON on stdout' },
};

export const configOption: Record<string, OptionSpec> = {
  config: {
    type: 'string',
    value: 'file',
    description: 'cluster config (default: $TRIAD_CONFIG, ./config/cluster.yaml, or the one shipped with triad)',
  },
};

/** Where and how to reach the cluster: a node's address, and the client certificate to show it (mutual TLS). */
export const targetOption: Record<string, OptionSpec> = {
  target: {
    type: 'string',
    value: 'host:port',
    description: "a node's gRPC address (default: from the cluster config)",
  },
  cert: {
    type: 'string',
    value: 'file',
    description: 'client certificate (default: $TRIAD_CERT, else the local operator one in the cluster certs dir)',
  },
  key: { type: 'string', value: 'file', description: "the certificate's private key (default: $TRIAD_KEY, beside it)" },
  ca: {
    type: 'string',
    value: 'file',
    description: 'the cluster CA (default: $TRIAD_CA, else ca.crt of the certs dir)',
  },
  insecure: {
    type: 'boolean',
    description: 'plaintext, no certificate (only to a loopback address of a cluster run with --insecure)',
  },
};

const helpOption: Record<string, OptionSpec> = { help: { type: 'boolean', short: 'h', description: 'show this help' } };

/** parseArgs in strict mode: an unknown flag or a missing value is a USAGE error naming the command. */
export function parseCommandArgs(command: Command, argv: string[]): { values: ParsedValues; positionals: string[] } {
  const options = { ...command.options, ...helpOption };
  const config: ParseArgsConfig = {
    args: argv,
    strict: true,
    allowPositionals: true,
    options: Object.fromEntries(
      Object.entries(options).map(([name, spec]) => [
        name,
        { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
      ]),
    ),
  };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new TriadError('USAGE', `${cleanParseError((err as Error).message)} (see 'triad ${command.name} --help')`);
  }
  const values = parsed.values as ParsedValues;
  if (!values.help) {
    const allowed = command.positionals?.length ?? 0;
    if (parsed.positionals.length > allowed) {
      throw new TriadError(
        'USAGE',
        `unexpected argument "${parsed.positionals[allowed]}" (see 'triad ${command.name} --help')`,
      );
    }
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (values[name] === undefined && spec.default !== undefined) values[name] = spec.default;
  }
  return { values, positionals: parsed.positionals };
}

/** node:util's messages end with a hint about positionals that triad's commands never take; multi-line ones are joined. */
function cleanParseError(message: string): string {
  return message.replace(/\. To specify a positional argument.*$/s, '').replace(/\s*\n\s*/g, ' ');
}

export function formatHelp(command: Command, entry: Pick<CommandEntry, 'summary' | 'aliases'>): string {
  const options = { ...command.options, ...helpOption };
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` <${spec.value}>` : ''}`;
    const fallback = spec.default !== undefined && spec.default !== false ? ` (default: ${String(spec.default)})` : '';
    return [flag, `${spec.description}${fallback}`] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  const lines = [
    entry.summary,
    '',
    `usage: ${command.usage}`,
    ...(entry.aliases?.length ? ['', `aliases: ${entry.aliases.join(', ')}`] : []),
    ...(command.positionals?.length
      ? ['', 'arguments:', ...command.positionals.map((p) => `  ${p.name.padEnd(width)}  ${p.description}`)]
      : []),
    '',
    'options:',
    ...rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`),
    ...(command.examples?.length ? ['', 'examples:', ...command.examples.map((e) => `  ${e}`)] : []),
    '',
    'exit codes: 0 done · 1 failed · 2 usage or bad input · 3 refused by a gate or lock',
  ];
  return `${lines.join('\n')}\n`;
}

export function writeJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a string flag that must be present, for a clear USAGE error instead of a later undefined. */
export function requireString(values: ParsedValues, name: string, command: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new TriadError('USAGE', `missing --${name} (see 'triad ${command} --help')`);
  }
  return value;
}

export function optionalString(values: ParsedValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Every value of a repeatable flag, in order ([] when absent). */
export function stringList(values: ParsedValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}
