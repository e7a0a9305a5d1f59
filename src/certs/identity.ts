import { X509Certificate } from 'node:crypto';
import { TriadError } from '../shared/index.js';
import { isRole, type Role } from './layout.js';

/** Who is calling, as its certificate says: the role it may act in and its name (an instance, an operator …). */
export interface Identity {
  role: Role;
  name: string;
  cluster: string;
  /** The certificate's subject, e.g. "CN=alice,OU=operator,O=triad": what the audit log names as the actor. */
  subject: string;
}

/** The SAN URI every triad certificate carries: spiffe://triad/<cluster>/<role>/<name>. */
export function identityUri(cluster: string, role: Role, name: string): string {
  return `spiffe://triad/${cluster}/${role}/${name}`;
}

const uriPattern = /^spiffe:\/\/triad\/([a-z0-9][a-z0-9._-]*)\/([a-z]+)\/([A-Za-z0-9][A-Za-z0-9._@-]*)$/;

/**
 * The identity in a certificate, checked against the cluster's CA: signed by it, inside its validity window, carrying
 * a triad identity URI of this cluster. Throws UNAUTHENTICATED saying what is wrong; never trusts what the peer says of
 * itself beyond what the CA signed.
 */
export function verifyIdentity(
  certificate: X509Certificate,
  trust: { ca: X509Certificate; cluster: string; now: number },
): Identity {
  if (!certificate.checkIssued(trust.ca) || !certificate.verify(trust.ca.publicKey)) {
    throw new TriadError('UNAUTHENTICATED', `certificate "${certificate.subject}" is not issued by this cluster's CA`);
  }
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  if (!(trust.now >= notBefore)) {
    throw new TriadError(
      'UNAUTHENTICATED',
      `certificate "${certificate.subject}" is not valid before ${certificate.validFrom}`,
    );
  }
  if (!(trust.now <= notAfter)) {
    throw new TriadError('UNAUTHENTICATED', `certificate "${certificate.subject}" expired at ${certificate.validTo}`);
  }
  const identity = identityIn(certificate);
  if (identity.cluster !== trust.cluster) {
    throw new TriadError(
      'UNAUTHENTICATED',
      `certificate "${certificate.subject}" is for cluster "${identity.cluster}", not "${trust.cluster}"`,
    );
  }
  return identity;
}

/** The identity a certificate claims (its SAN URI), without checking who signed it. */
export function identityIn(certificate: X509Certificate): Identity {
  const uris = (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  for (const uri of uris) {
    const match = uriPattern.exec(uri);
    if (match && isRole(match[2] ?? '')) {
      return {
        cluster: match[1] as string,
        role: match[2] as Role,
        name: match[3] as string,
        subject: certificate.subject.replaceAll('\n', ','),
      };
    }
  }
  throw new TriadError(
    'UNAUTHENTICATED',
    `certificate "${certificate.subject}" carries no triad identity (a SAN URI spiffe://triad/<cluster>/<role>/<name>)`,
  );
}
