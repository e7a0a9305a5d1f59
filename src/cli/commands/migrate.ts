import { readRuntimeEnv } from '../../config/index.js';
import { createLogger, TriadError } from '../../shared/index.js';
import { createPool, describeTarget, migrate } from '../../storage/index.js';
import { jsonOption, optionalString, writeJson, type Command } from '../command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  usage: 'triad migrate [--json] [--database-url <url>]',
  options: {
    ...jsonOption,
    'database-url': {
      type: 'string',
      value: 'url',
      description: 'PostgreSQL to migrate (default: $DATABASE_URL)',
    },
  },
  examples: [
    'DATABASE_URL=postgres://triad@db.internal:5432/triad triad migrate',
    'triad migrate --database-url postgres://postgres@127.0.0.1:5432/triad --json',
  ],
  async run(values, _positionals, io) {
    const url = optionalString(values, 'database-url') ?? readRuntimeEnv(io.env, io.cwd).databaseUrl;
    if (!url) {
      throw new TriadError(
        'USAGE',
        'no database to migrate: set DATABASE_URL or pass --database-url. ' +
          '(Without DATABASE_URL, `triad up` runs the embedded PostgreSQL and migrates it itself.)',
      );
    }
    // Progress is logged to stderr; stdout carries only the result, so --json output stays parseable.
    const log = createLogger('cli', { level: 'warn', destination: io.stderr });
    const pool = createPool(url, { applicationName: 'triad-migrate', max: 1, log });
    try {
      const result = await migrate(pool, { log });
      const target = describeTarget(url);
      if (values.json) {
        writeJson(io, {
          database: target,
          applied: result.applied.map((m) => m.file),
          alreadyApplied: result.alreadyApplied.map((m) => m.file),
        });
      } else {
        const lines = [
          ...result.applied.map((m) => `applied          ${m.file}`),
          ...result.alreadyApplied.map((m) => `already applied  ${m.file}`),
          result.applied.length === 0
            ? `${target}: schema up to date, nothing to apply`
            : `${target}: applied ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'}`,
        ];
        io.stdout.write(`${lines.join('\n')}\n`);
      }
      return 0;
    } finally {
      await pool.end();
    }
  },
};
