import path from 'node:path';

/** The roles a certificate can carry (DESIGN §8); a closed set because the method table is keyed by it. */
export const roles = ['node', 'operator', 'viewer', 'ingest'] as const;
export type Role = (typeof roles)[number];

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

/** Where one key pair lives: the certificate (PEM) and its private key (PEM, 0600). */
export interface KeyPairFiles {
  cert: string;
  key: string;
}

/**
 * The files of a cluster's certificate directory (`triad certs generate --out DIR`, `.triad/certs` for `triad up`):
 *
 *   ca.crt ca.key                     the cluster CA (the key signs new leaves: keep it off the nodes in production)
 *   nodes/<instance>.crt|.key         one per instance: server and client certificate, SANs of its host
 *   clients/<role>-<name>.crt|.key    operators, viewers, ingest clients
 */
export function certificateLayout(dir: string) {
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    node: (instance: string): KeyPairFiles => ({
      cert: path.join(dir, 'nodes', `${instance}.crt`),
      key: path.join(dir, 'nodes', `${instance}.key`),
    }),
    client: (role: Exclude<Role, 'node'>, name: string): KeyPairFiles => ({
      cert: path.join(dir, 'clients', `${role}-${name}.crt`),
      key: path.join(dir, 'clients', `${role}-${name}.key`),
    }),
  };
}

export type CertificateLayout = ReturnType<typeof certificateLayout>;
