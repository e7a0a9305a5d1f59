// Certificates with a maintained X.509 library (@peculiar/x509, over Node's WebCrypto): ECDSA P-256 keys, a cluster CA
// and leaves signed by it. No hand-written ASN.1 and no openssl binary, so `triad up` works on any machine with Node.
import 'reflect-metadata'; // @peculiar/x509 resolves its parsers through tsyringe, which needs this polyfill first
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { identityUri } from './identity.js';
import type { Role } from './layout.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const dayMs = 86_400_000;

/** A certificate and its private key, PEM. */
export interface Pem {
  cert: string;
  key: string;
}

/** A CA able to sign: its certificate, and its key loaded for signing. */
export interface SigningCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
  pem: Pem;
}

/** RFC 5280 serials are positive and at most 20 bytes: 16 random bytes with the top bit cleared. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function keyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

async function pemKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Distinguished names are built from names triad checked already (instance and role names: no commas or quotes). */
function dn(parts: Record<string, string>): string {
  return Object.entries(parts)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export async function createCa(cluster: string, days: number, now = Date.now()): Promise<SigningCa> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn({ CN: `triad ${cluster} CA`, O: 'triad' }),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * dayMs),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, pem: { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) } };
}

/** Loads a CA written by createCa, to sign more leaves with it (`triad certs issue`, `rotate`). */
export async function loadCa(pem: Pem): Promise<SigningCa> {
  const cert = new x509.X509Certificate(pem.cert);
  const der = x509.PemConverter.decodeFirst(pem.key);
  const key = await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
  return { cert, key, pem };
}

export interface LeafRequest {
  cluster: string;
  role: Role;
  name: string;
  days: number;
  /** Node certificates only: the host names and IP addresses it is reached at (its SANs). */
  dnsNames?: readonly string[];
  ips?: readonly string[];
}

/**
 * A leaf signed by the CA. The role travels in two places, so both humans and machines can read it: the subject
 * (`CN=<name>, OU=<role>, O=triad`) and the SAN URI spiffe://triad/<cluster>/<role>/<name>, which is what triad checks.
 * Node certificates serve and dial (serverAuth + clientAuth); client certificates only dial.
 */
export async function issueLeaf(ca: SigningCa, request: LeafRequest, now = Date.now()): Promise<Pem> {
  const keys = await keyPair();
  const names: x509.JsonGeneralName[] = [
    { type: 'url', value: identityUri(request.cluster, request.role, request.name) },
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const usages =
    request.role === 'node'
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: dn({ CN: request.name, OU: request.role, O: 'triad' }),
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + request.days * dayMs),
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
    ],
  });
  return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
}
