import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  auditKeyFileName,
  ensureAuditKey,
  generateCertificates,
  identityIn,
  isRole,
  issueClientCertificate,
  rotateCertificates,
  type ClientRequest,
  type Written,
} from '../../certs/index.js';
import { TriadError } from '../../shared/index.js';
import { loadCliConfig } from '../cluster-client.js';
import {
  configOption,
  jsonOption,
  optionalString,
  stringList,
  writeJson,
  type CliIO,
  type Command,
  type ParsedValues,
} from '../command.js';
import { formatTable } from '../table.js';

const actions = ['generate', 'issue', 'show', 'rotate'] as const;

export const certsCommand: Command = {
  name: 'certs',
  usage: [
    'triad certs generate [--out DIR] [--operator NAME…] [--viewer NAME…] [--ingest NAME…] [--days N] [--force]',
    '       (also creates the audit key, audit.key, beside them unless it exists)',
    '       triad certs issue --role operator|viewer|ingest --name NAME [--ca-dir DIR] [--out DIR] [--days N]',
    '       triad certs show FILE',
    '       triad certs rotate [--out DIR] [--days N]',
  ].join('\n'),
  options: {
    out: {
      type: 'string',
      value: 'dir',
      description: "where the certificates go (default: the cluster's certs dir, .triad/certs for triad up)",
    },
    operator: { type: 'string', multiple: true, value: 'name', description: 'an operator certificate (repeatable)' },
    viewer: { type: 'string', multiple: true, value: 'name', description: 'a viewer certificate (repeatable)' },
    ingest: { type: 'string', multiple: true, value: 'name', description: 'an ingest client certificate (repeatable)' },
    role: { type: 'string', value: 'operator|viewer|ingest', description: 'issue: the role the certificate carries' },
    name: { type: 'string', value: 'name', description: 'issue: who it is for (letters, digits, . _ - @)' },
    'ca-dir': { type: 'string', value: 'dir', description: "issue: the CA's directory (default: the certs dir)" },
    days: {
      type: 'string',
      value: 'n',
      description: 'validity of leaf certificates, days (the CA: twice that)',
      default: '365',
    },
    force: {
      type: 'boolean',
      description: 'generate: replace an existing CA (every certificate it signed stops working)',
    },
    ...jsonOption,
    ...configOption,
  },
  positionals: [
    { name: 'action', description: actions.join(' | ') },
    { name: 'FILE', description: 'show: a certificate file' },
  ],
  examples: [
    'triad certs generate --out /etc/triad/certs --operator alice --viewer grafana --ingest ci',
    'triad certs issue --role operator --name bob',
    'triad certs show .triad/certs/clients/operator-local.crt',
    'triad certs rotate',
  ],
  async run(values, positionals, io) {
    const [action, file] = positionals;
    switch (action) {
      case 'generate': {
        const written = await generate(values, io);
        return report(io, values, written, auditKey(values, io));
      }
      case 'issue':
        return report(io, values, [await issue(values, io)]);
      case 'rotate':
        return report(io, values, await rotate(values, io));
      case 'show':
        return show(values, io, file);
      default:
        throw new TriadError(
          'USAGE',
          `expected one of ${actions.map((a) => `"triad certs ${a}"`).join(', ')}, received "triad certs ${positionals.join(' ')}"`,
        );
    }
  },
};

function days(values: ParsedValues): number {
  const raw = optionalString(values, 'days') ?? '365';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 3_650) {
    throw new TriadError('USAGE', `--days must be a whole number from 1 to 3650, received "${raw}"`);
  }
  return n;
}

function outDir(values: ParsedValues, io: CliIO, certsDir: string): string {
  const out = optionalString(values, 'out');
  return out ? path.resolve(io.cwd, out) : certsDir;
}

async function generate(values: ParsedValues, io: CliIO): Promise<Written[]> {
  const config = loadCliConfig(values, io);
  const clients: ClientRequest[] = [
    ...stringList(values, 'operator').map((name) => ({ role: 'operator' as const, name })),
    ...stringList(values, 'viewer').map((name) => ({ role: 'viewer' as const, name })),
    ...stringList(values, 'ingest').map((name) => ({ role: 'ingest' as const, name })),
  ];
  return generateCertificates({
    dir: outDir(values, io, config.certsDir),
    cluster: config.cluster.name,
    instances: config.cluster.instances.map((i) => ({ name: i.name, host: i.host })),
    clients,
    days: days(values),
    replaceCa: values.force === true,
  });
}

async function issue(values: ParsedValues, io: CliIO): Promise<Written> {
  const config = loadCliConfig(values, io);
  const role = optionalString(values, 'role');
  const name = optionalString(values, 'name');
  if (!role || !isRole(role) || role === 'node') {
    throw new TriadError('USAGE', `--role must be operator, viewer or ingest, received "${role ?? ''}"`);
  }
  if (!name) throw new TriadError('USAGE', "missing --name (see 'triad certs --help')");
  const caDir = optionalString(values, 'ca-dir');
  const out = optionalString(values, 'out');
  return issueClientCertificate({
    caDir: caDir ? path.resolve(io.cwd, caDir) : config.certsDir,
    ...(out ? { outDir: path.resolve(io.cwd, out) } : {}),
    cluster: config.cluster.name,
    client: { role, name },
    days: days(values),
  });
}

async function rotate(values: ParsedValues, io: CliIO): Promise<Written[]> {
  const config = loadCliConfig(values, io);
  return rotateCertificates({
    dir: outDir(values, io, config.certsDir),
    cluster: config.cluster.name,
    instances: config.cluster.instances.map((i) => ({ name: i.name, host: i.host })),
    days: days(values),
  });
}

/**
 * The audit chain's HMAC key beside the certificates (`--out DIR/audit.key`, else config's audit.key_file): created
 * once, never replaced, since rows keyed with it would stop verifying (docs/security.md, "Audit").
 */
function auditKey(values: ParsedValues, io: CliIO): { file: string; created: boolean } {
  const out = optionalString(values, 'out');
  const file = out ? path.join(path.resolve(io.cwd, out), auditKeyFileName) : loadCliConfig(values, io).auditKeyFile;
  return { file, ...ensureAuditKey(file) };
}

function report(io: CliIO, values: ParsedValues, written: Written[], key?: { file: string; created: boolean }): number {
  if (values.json) {
    writeJson(io, { written, ...(key ? { audit_key: key } : {}) });
    return 0;
  }
  io.stdout.write(
    formatTable(
      ['FILE', 'ROLE', 'SUBJECT', 'NOT AFTER'],
      written.map((w) => [path.relative(io.cwd, w.file) || w.file, w.role, w.subject, w.notAfter]),
    ),
  );
  io.stdout.write('private keys are beside each certificate (.key, mode 0600); ca.key signs new ones: keep it safe\n');
  if (key)
    io.stdout.write(
      `audit key: ${path.relative(io.cwd, key.file) || key.file} (${key.created ? 'created' : 'kept'}, mode 0600): every node and \`triad audit verify\` need it; keep it out of the database's reach\n`,
    );
  return 0;
}

function show(values: ParsedValues, io: CliIO, file: string | undefined): number {
  if (!file) throw new TriadError('USAGE', 'expected "triad certs show FILE"');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(path.resolve(io.cwd, file)));
  } catch (err) {
    throw new TriadError('INPUT_INVALID', `${file}: not a readable PEM certificate (${(err as Error).message})`);
  }
  let identity: { role: string; name: string; cluster: string } | undefined;
  try {
    identity = identityIn(cert);
  } catch {
    identity = undefined;
  }
  const daysLeft = Math.floor((Date.parse(cert.validTo) - io.clock.now()) / 86_400_000);
  const facts = {
    file,
    subject: cert.subject.replaceAll('\n', ', '),
    issuer: cert.issuer.replaceAll('\n', ', '),
    role: identity?.role ?? (cert.ca ? 'ca' : 'none (not a triad certificate)'),
    name: identity?.name ?? '',
    cluster: identity?.cluster ?? '',
    subject_alt_names: (cert.subjectAltName ?? '').split(', ').filter(Boolean),
    not_before: cert.validFrom,
    not_after: cert.validTo,
    days_left: daysLeft,
    fingerprint_sha256: cert.fingerprint256,
  };
  if (values.json) writeJson(io, facts);
  else
    io.stdout.write(
      formatTable(
        ['FIELD', 'VALUE'],
        Object.entries(facts).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
      ),
    );
  return daysLeft < 0 ? 1 : 0;
}
