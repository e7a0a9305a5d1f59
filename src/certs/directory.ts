// A cluster's certificate directory: what `triad certs generate | issue | rotate` and `triad up` write and read.
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { TriadError } from '../shared/index.js';
import { identityIn } from './identity.js';
import { certificateLayout, type KeyPairFiles, type Role } from './layout.js';
import { createCa, issueLeaf, loadCa, type Pem, type SigningCa } from './x509.js';

/** An instance as a certificate needs it: its name and the host it is reached at. */
export interface CertifiedInstance {
  name: string;
  host: string;
}

export interface ClientRequest {
  role: Exclude<Role, 'node'>;
  name: string;
}

/** Where a client of each role is named: letters, digits, ".", "_", "-", "@" (an operator's user@host). */
const clientNamePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function checkClientName(name: string): string {
  if (!clientNamePattern.test(name)) {
    throw new TriadError(
      'INPUT_INVALID',
      `"${name}" is not a usable certificate name: letters, digits, ".", "_", "-", "@", up to 64, starting with a letter or digit`,
    );
  }
  return name;
}

/** Writes one file atomically (a reader never sees half of it) with its mode: 0600 for keys, 0644 for certificates. */
function writeAtomically(file: string, text: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** The key first, then the certificate: a reload that reads between the two still sees a pair that matches. */
function writePair(files: KeyPairFiles, pem: Pem): void {
  writeAtomically(files.key, pem.key, 0o600);
  writeAtomically(files.cert, pem.cert, 0o644);
}

function nodeNames(host: string): { dnsNames: string[]; ips: string[] } {
  const bare = host.replace(/^\[|\]$/g, '');
  // A node is also dialled as localhost by tools on its own machine; the certificate says so for loopback hosts only.
  if (isIP(bare)) return { dnsNames: bare.startsWith('127.') || bare === '::1' ? ['localhost'] : [], ips: [bare] };
  return { dnsNames: [bare], ips: [] };
}

export interface Written {
  file: string;
  subject: string;
  role: Role | 'ca';
  notAfter: string;
}

/**
 * A new cluster CA and every certificate the cluster needs: one per instance (server and client, SANs of its host),
 * and client certificates for the operators, viewers and ingest clients named. Refuses to replace an existing CA
 * (every certificate signed by it would stop working) unless `replaceCa`.
 */
export async function generateCertificates(options: {
  dir: string;
  cluster: string;
  instances: readonly CertifiedInstance[];
  clients: readonly ClientRequest[];
  days: number;
  replaceCa?: boolean;
}): Promise<Written[]> {
  const layout = certificateLayout(options.dir);
  if (existsSync(layout.caCert) && !options.replaceCa) {
    throw new TriadError(
      'INPUT_INVALID',
      `${layout.caCert} exists: a new CA would invalidate every certificate it signed. Use 'triad certs issue' to add one, 'triad certs rotate' to renew them, or --force to start over`,
    );
  }
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  chmodSync(options.dir, 0o700);
  const ca = await createCa(options.cluster, options.days * 2);
  writePair({ cert: layout.caCert, key: layout.caKey }, ca.pem);
  const written: Written[] = [describe(layout.caCert, 'ca')];
  for (const instance of options.instances) {
    written.push(await writeNode(ca, options.dir, options.cluster, instance, options.days));
  }
  for (const client of options.clients) {
    written.push(await writeClient(ca, options.dir, options.cluster, client, options.days));
  }
  return written;
}

/** One more client certificate from an existing CA: a new operator needs nothing changed on the nodes. */
export async function issueClientCertificate(options: {
  caDir: string;
  outDir?: string;
  cluster: string;
  client: ClientRequest;
  days: number;
}): Promise<Written> {
  const ca = await readCa(options.caDir);
  return writeClient(ca, options.outDir ?? options.caDir, options.cluster, options.client, options.days);
}

/**
 * New leaves for every certificate in the directory, from the same CA, with the same identities (instances get the
 * hosts the config names now). Nodes watch their files and switch without a restart; nothing signed by the CA changes
 * for anyone else.
 */
export async function rotateCertificates(options: {
  dir: string;
  cluster: string;
  instances: readonly CertifiedInstance[];
  days: number;
}): Promise<Written[]> {
  const ca = await readCa(options.dir);
  const written: Written[] = [];
  for (const instance of options.instances) {
    written.push(await writeNode(ca, options.dir, options.cluster, instance, options.days));
  }
  for (const client of existingClients(options.dir)) {
    written.push(await writeClient(ca, options.dir, options.cluster, client, options.days));
  }
  return written;
}

/**
 * What `triad up` needs before it starts nodes: a CA (created on the first start), a certificate for each instance
 * whose SANs cover its host, and the local operator, viewer and ingest clients. Existing valid ones are kept.
 */
export async function ensureLocalCertificates(options: {
  dir: string;
  cluster: string;
  instances: readonly CertifiedInstance[];
  days: number;
  now?: number;
}): Promise<{ created: Written[] }> {
  const layout = certificateLayout(options.dir);
  const created: Written[] = [];
  let ca: SigningCa;
  if (existsSync(layout.caCert)) {
    ca = await readCa(options.dir);
  } else {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    chmodSync(options.dir, 0o700);
    ca = await createCa(options.cluster, options.days * 2);
    writePair({ cert: layout.caCert, key: layout.caKey }, ca.pem);
    created.push(describe(layout.caCert, 'ca'));
  }
  const now = options.now ?? Date.now();
  // A certificate with less than a tenth of its life left is renewed on start, so a long-lived local cluster keeps going.
  const usable = (file: string, wanted: (cert: X509Certificate) => boolean) => {
    if (!existsSync(file)) return false;
    const cert = new X509Certificate(readFileSync(file));
    const left = Date.parse(cert.validTo) - now;
    return (
      left > (options.days * 86_400_000) / 10 && cert.checkIssued(new X509Certificate(ca.pem.cert)) && wanted(cert)
    );
  };
  for (const instance of options.instances) {
    const { ips, dnsNames } = nodeNames(instance.host);
    const covers = (cert: X509Certificate) =>
      [...ips.map((ip) => `IP Address:${ip}`), ...dnsNames.map((d) => `DNS:${d}`)].every((san) =>
        (cert.subjectAltName ?? '').split(', ').includes(san),
      );
    if (!usable(layout.node(instance.name).cert, covers))
      created.push(await writeNode(ca, options.dir, options.cluster, instance, options.days));
  }
  for (const role of ['operator', 'viewer', 'ingest'] as const) {
    if (!usable(layout.client(role, 'local').cert, () => true))
      created.push(await writeClient(ca, options.dir, options.cluster, { role, name: 'local' }, options.days));
  }
  return { created };
}

async function readCa(dir: string): Promise<SigningCa> {
  const layout = certificateLayout(dir);
  try {
    return await loadCa({ cert: readFileSync(layout.caCert, 'utf8'), key: readFileSync(layout.caKey, 'utf8') });
  } catch (err) {
    throw new TriadError(
      'INPUT_INVALID',
      `cannot read the cluster CA in ${dir} (ca.crt and ca.key): ${(err as Error).message}. 'triad certs generate' creates one`,
      { cause: err },
    );
  }
}

async function writeNode(
  ca: SigningCa,
  dir: string,
  cluster: string,
  instance: CertifiedInstance,
  days: number,
): Promise<Written> {
  const files = certificateLayout(dir).node(instance.name);
  writePair(
    files,
    await issueLeaf(ca, { cluster, role: 'node', name: instance.name, days, ...nodeNames(instance.host) }),
  );
  return describe(files.cert, 'node');
}

async function writeClient(ca: SigningCa, dir: string, cluster: string, client: ClientRequest, days: number) {
  const files = certificateLayout(dir).client(client.role, checkClientName(client.name));
  writePair(files, await issueLeaf(ca, { cluster, role: client.role, name: client.name, days }));
  return describe(files.cert, client.role);
}

/** The client certificates in a directory (clients/<role>-<name>.crt), read back from their identities. */
function existingClients(dir: string): ClientRequest[] {
  const clients = path.join(dir, 'clients');
  if (!existsSync(clients)) return [];
  return readdirSync(clients)
    .filter((f) => f.endsWith('.crt'))
    .map((f) => identityIn(new X509Certificate(readFileSync(path.join(clients, f)))))
    .filter((id): id is typeof id & { role: ClientRequest['role'] } => id.role !== 'node')
    .map((id) => ({ role: id.role, name: id.name }));
}

function describe(file: string, role: Written['role']): Written {
  const cert = new X509Certificate(readFileSync(file));
  return { file, subject: cert.subject.replaceAll('\n', ', '), role, notAfter: cert.validTo };
}
