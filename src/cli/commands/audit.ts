import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readAuditKey } from '../../certs/index.js';
import { createLogger, TriadError } from '../../shared/index.js';
import {
  anchorOf,
  createPool,
  describeTarget,
  parseAnchor,
  runningEmbeddedUrl,
  verifyAudit,
  type AuditAnchor,
  type AuditKey,
  type AuditVerification,
} from '../../storage/index.js';
import { loadCliConfig } from '../cluster-client.js';
import { configOption, jsonOption, optionalString, writeJson, type CliIO, type Command } from '../command.js';

const actions = ['verify', 'anchor'] as const;

/**
 * `triad audit verify | anchor`: reads PostgreSQL itself with the audit key, so its answer does not depend on any node
 * (a node whose database was tampered with would report what it reads; a compromised one whatever it likes).
 */
export const auditCommand: Command = {
  name: 'audit',
  usage: [
    'triad audit verify [--anchor FILE] [--json] [--database-url URL] [--key-file FILE]',
    '       triad audit anchor [--out FILE] [--json] [--database-url URL] [--key-file FILE]',
  ].join('\n'),
  options: {
    anchor: {
      type: 'string',
      value: 'file',
      description: 'verify: also check against an anchor (its last line) taken earlier by `triad audit anchor`',
    },
    out: {
      type: 'string',
      value: 'file',
      description: 'anchor: append the anchor line to FILE as well as printing it',
    },
    'database-url': {
      type: 'string',
      value: 'url',
      description: "PostgreSQL to read (default: $DATABASE_URL, else the running `triad up` cluster's embedded one)",
    },
    'key-file': {
      type: 'string',
      value: 'file',
      description: 'the audit key (default: config audit.key_file, else audit.key in the certs dir)',
    },
    ...jsonOption,
    ...configOption,
  },
  positionals: [
    {
      name: 'action',
      description: 'verify: check every row and version, name the first bad one | anchor: print the verified head',
    },
  ],
  examples: [
    'triad audit anchor --out /var/log/triad/audit-anchors.log',
    'triad audit verify --anchor /var/log/triad/audit-anchors.log',
    'triad audit verify --json',
  ],
  async run(values, positionals, io) {
    const action = positionals[0];
    if (!(actions as readonly (string | undefined)[]).includes(action) || positionals.length > 1) {
      throw new TriadError(
        'USAGE',
        `expected "triad audit verify" or "triad audit anchor", received "triad audit ${positionals.join(' ')}"`,
      );
    }
    if (action === 'anchor' && values.anchor !== undefined) throw new TriadError('USAGE', '--anchor is for verify');
    if (action === 'verify' && values.out !== undefined) throw new TriadError('USAGE', '--out is for anchor');
    // Bad input is found before anything is read from the database: key, then anchor, then the URL.
    const config = loadCliConfig(values, io);
    const keyFlag = optionalString(values, 'key-file');
    const key = readAuditKey(keyFlag ? path.resolve(io.cwd, keyFlag) : config.auditKeyFile);
    const anchorFile = optionalString(values, 'anchor');
    const anchor = anchorFile ? readAnchor(key, path.resolve(io.cwd, anchorFile), anchorFile) : undefined;
    const url =
      optionalString(values, 'database-url') ?? config.env.databaseUrl ?? runningEmbeddedUrl(config.env.dataDir);
    if (!url) {
      throw new TriadError(
        'USAGE',
        'no database to read: set DATABASE_URL, pass --database-url, or run it beside a running `triad up`',
      );
    }
    const log = createLogger('cli', { level: 'warn', destination: io.stderr });
    const pool = createPool(url, { applicationName: 'triad-audit', max: 1, log });
    try {
      const result = await verifyAudit(pool, key, anchor ? { anchor } : {});
      if (!result.ok) throw tampered(result, describeTarget(url));
      if (action === 'anchor') return writeAnchor(io, values, key, result);
      if (values.json) writeJson(io, { ...result, database: describeTarget(url), anchor: anchor ?? null });
      else {
        io.stdout.write(
          `audit log intact: ${result.rows} rows (${result.legacyRows} from before keying), ${result.versions} desired-state versions each matching its audit row` +
            `${anchor ? `; the anchor of ${anchor.at} (${anchor.rows} rows up to row ${anchor.headId}) is still the chain's past` : ''}\n`,
        );
        if (result.legacyVersions > 0)
          io.stdout.write(
            `note: ${result.legacyVersions} versions predate the audit key and carry no content hash (docs/security.md, Audit)\n`,
          );
      }
      return 0;
    } finally {
      await pool.end();
    }
  },
};

/** The last anchor line of FILE, checked with the key (also used by `triad precheck --anchor`). */
export function readAnchor(key: AuditKey, file: string, shown: string): AuditAnchor {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TriadError('INPUT_INVALID', `--anchor ${shown}: ${(err as Error).message}`);
  }
  return parseAnchor(key, text, `--anchor ${shown}`);
}

function tampered(result: Extract<AuditVerification, { ok: false }>, database: string): TriadError {
  const where =
    result.version !== undefined
      ? `desired-state version ${result.version}${result.brokenAt !== undefined ? ` (audit row ${result.brokenAt})` : ''}`
      : result.brokenAt !== undefined
        ? `row ${result.brokenAt}`
        : `the tail${result.missingRows ? ` (${result.missingRows} rows missing)` : ''}`;
  return new TriadError('AUDIT_TAMPERED', `audit log of ${database} broken at ${where}: ${result.reason}`, {
    details: result,
  });
}

function writeAnchor(
  io: CliIO,
  values: Record<string, unknown>,
  key: AuditKey,
  result: Extract<AuditVerification, { ok: true }>,
): number {
  const line = anchorOf(
    key,
    { rows: result.rows, legacyRows: result.legacyRows, id: result.head.id, hash: result.head.hash },
    new Date(io.clock.now()),
  );
  const out = typeof values.out === 'string' ? path.resolve(io.cwd, values.out) : undefined;
  if (out) {
    try {
      appendFileSync(out, `${line}\n`, { mode: 0o644 });
    } catch (err) {
      throw new TriadError('INPUT_INVALID', `--out ${String(values.out)}: ${(err as Error).message}`);
    }
  }
  // The anchor is one JSON line either way: what operators ship to a log store or another machine.
  io.stdout.write(`${line}\n`);
  if (!values.json)
    io.stderr.write(
      `anchored ${result.rows} verified rows up to row ${result.head.id}${out ? ` (appended to ${String(values.out)})` : ''}: keep a copy where this database's writers cannot reach it\n`,
    );
  return 0;
}
