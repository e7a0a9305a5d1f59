import type { TriadConfig } from '../../config/index.js';
import { runningEmbeddedUrl } from '../../storage/index.js';
import { optionalString, type OptionSpec, type ParsedValues } from '../command.js';

export const databaseUrlOption: Record<string, OptionSpec> = {
  'database-url': {
    type: 'string',
    value: 'url',
    description: 'PostgreSQL (default: $DATABASE_URL, else the embedded engine `triad up` runs in the data dir)',
  },
};

/** --database-url, else DATABASE_URL, else the embedded engine running under the data dir; undefined when none. */
export function databaseUrlOf(values: ParsedValues, config: Pick<TriadConfig, 'env'>): string | undefined {
  return optionalString(values, 'database-url') ?? config.env.databaseUrl ?? runningEmbeddedUrl(config.env.dataDir);
}
