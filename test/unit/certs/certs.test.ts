import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  certificateLayout,
  ensureLocalCertificates,
  generateCertificates,
  identityIn,
  issueClientCertificate,
  rotateCertificates,
  verifyIdentity,
} from '../../../src/certs/index.js';
import { TriadError } from '../../../src/shared/index.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'triad-certs-'));
  dirs.push(dir);
  return path.join(dir, 'certs');
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const instances = [
  { name: 'alpha', host: '127.0.0.1' },
  { name: 'beta', host: '10.0.0.2' },
  { name: 'gamma', host: 'gamma.prod.example' },
];
const read = (file: string) => new X509Certificate(readFileSync(file));
const mode = (file: string) => statSync(file).mode & 0o777;

describe('triad certs generate', () => {
  test('a CA, one certificate per instance with its host in the SANs, and the clients named; keys 0600', async () => {
    const dir = tempDir();
    const written = await generateCertificates({
      dir,
      cluster: 'prod',
      instances,
      clients: [
        { role: 'operator', name: 'alice' },
        { role: 'viewer', name: 'grafana' },
        { role: 'ingest', name: 'ci' },
      ],
      days: 30,
    });
    const layout = certificateLayout(dir);
    expect(written.map((w) => [path.relative(dir, w.file), w.role])).toEqual([
      ['ca.crt', 'ca'],
      ['nodes/alpha.crt', 'node'],
      ['nodes/beta.crt', 'node'],
      ['nodes/gamma.crt', 'node'],
      ['clients/operator-alice.crt', 'operator'],
      ['clients/viewer-grafana.crt', 'viewer'],
      ['clients/ingest-ci.crt', 'ingest'],
    ]);
    expect(mode(dir)).toBe(0o700);
    expect(mode(layout.caKey)).toBe(0o600);
    expect(mode(layout.node('alpha').key)).toBe(0o600);
    expect(mode(layout.client('operator', 'alice').key)).toBe(0o600);
    expect(mode(layout.caCert)).toBe(0o644);

    const ca = read(layout.caCert);
    expect(ca.ca).toBe(true);
    const alpha = read(layout.node('alpha').cert);
    expect(alpha.subjectAltName).toBe('URI:spiffe://triad/prod/node/alpha, DNS:localhost, IP Address:127.0.0.1');
    expect(read(layout.node('beta').cert).subjectAltName).toBe(
      'URI:spiffe://triad/prod/node/beta, IP Address:10.0.0.2',
    );
    expect(read(layout.node('gamma').cert).subjectAltName).toBe(
      'URI:spiffe://triad/prod/node/gamma, DNS:gamma.prod.example',
    );
    expect(alpha.subject).toBe('CN=alpha\nOU=node\nO=triad');
    expect(alpha.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // serverAuth, clientAuth
    expect(read(layout.client('viewer', 'grafana').cert).keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(alpha.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    for (const w of written.slice(1)) expect(read(w.file).verify(ca.publicKey)).toBe(true);
    const days = (Date.parse(alpha.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
  });

  test('refuses to replace an existing CA (every certificate it signed would stop working) unless told to', async () => {
    const dir = tempDir();
    await generateCertificates({ dir, cluster: 'prod', instances, clients: [], days: 30 });
    const before = readFileSync(certificateLayout(dir).caCert, 'utf8');
    const err = await generateCertificates({ dir, cluster: 'prod', instances, clients: [], days: 30 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TriadError);
    expect((err as TriadError).code).toBe('INPUT_INVALID');
    expect(readFileSync(certificateLayout(dir).caCert, 'utf8')).toBe(before);
    await generateCertificates({ dir, cluster: 'prod', instances, clients: [], days: 30, replaceCa: true });
    expect(readFileSync(certificateLayout(dir).caCert, 'utf8')).not.toBe(before);
  });
});

describe('issue, rotate, and what the nodes check', () => {
  test('issue adds an operator from the same CA; rotate renews every leaf, same identities, same CA', async () => {
    const dir = tempDir();
    await generateCertificates({ dir, cluster: 'prod', instances, clients: [], days: 30 });
    const layout = certificateLayout(dir);
    const bob = await issueClientCertificate({
      caDir: dir,
      cluster: 'prod',
      client: { role: 'operator', name: 'bob@laptop' },
      days: 7,
    });
    expect(path.relative(dir, bob.file)).toBe('clients/operator-bob@laptop.crt');
    const ca = read(layout.caCert);
    const identity = verifyIdentity(read(bob.file), { ca, cluster: 'prod', now: Date.now() });
    expect(identity).toEqual({
      role: 'operator',
      name: 'bob@laptop',
      cluster: 'prod',
      subject: 'CN=bob@laptop,OU=operator,O=triad',
    });

    const alphaBefore = read(layout.node('alpha').cert);
    const rotated = await rotateCertificates({ dir, cluster: 'prod', instances, days: 30 });
    expect(rotated.map((w) => path.relative(dir, w.file)).sort()).toEqual(
      ['clients/operator-bob@laptop.crt', 'nodes/alpha.crt', 'nodes/beta.crt', 'nodes/gamma.crt'].sort(),
    );
    const alphaAfter = read(layout.node('alpha').cert);
    expect(alphaAfter.serialNumber).not.toBe(alphaBefore.serialNumber);
    expect(identityIn(alphaAfter)).toEqual(identityIn(alphaBefore));
    expect(readFileSync(layout.caCert).equals(readFileSync(layout.caCert))).toBe(true);
    expect(alphaAfter.verify(ca.publicKey)).toBe(true);
    expect(readdirSync(path.join(dir, 'nodes')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a certificate from another CA, of another cluster, or expired is refused, saying which', async () => {
    const [mine, theirs] = [tempDir(), tempDir()];
    await generateCertificates({ dir: mine, cluster: 'prod', instances, clients: [], days: 30 });
    await generateCertificates({ dir: theirs, cluster: 'prod', instances, clients: [], days: 30 });
    const ca = read(certificateLayout(mine).caCert);
    const foreign = read(certificateLayout(theirs).node('alpha').cert);
    const refusal = (cert: X509Certificate, trust: { cluster: string; now: number }) => {
      try {
        verifyIdentity(cert, { ca, ...trust });
      } catch (err) {
        return (err as TriadError).message;
      }
      return 'accepted';
    };
    expect(refusal(foreign, { cluster: 'prod', now: Date.now() })).toBe(
      `[UNAUTHENTICATED] certificate "CN=alpha\nOU=node\nO=triad" is not issued by this cluster's CA`,
    );
    const own = read(certificateLayout(mine).node('alpha').cert);
    expect(refusal(own, { cluster: 'staging', now: Date.now() })).toMatch(/is for cluster "prod", not "staging"$/);
    expect(refusal(own, { cluster: 'prod', now: Date.now() + 31 * 86_400_000 })).toMatch(/expired at /);
    expect(refusal(own, { cluster: 'prod', now: Date.now() })).toBe('accepted');
  });

  test('triad up keeps what is valid and renews what no longer covers its host or is near its end', async () => {
    const dir = tempDir();
    const first = await ensureLocalCertificates({ dir, cluster: 'local', instances: instances.slice(0, 1), days: 30 });
    expect(first.created.map((w) => path.relative(dir, w.file))).toEqual([
      'ca.crt',
      'nodes/alpha.crt',
      'clients/operator-local.crt',
      'clients/viewer-local.crt',
      'clients/ingest-local.crt',
    ]);
    const again = await ensureLocalCertificates({ dir, cluster: 'local', instances: instances.slice(0, 1), days: 30 });
    expect(again.created).toEqual([]);
    // alpha moved to another address; beta joined (a K5 start after a K3 one adds the new instances).
    const moved = [{ name: 'alpha', host: '127.0.0.7' }, instances[1]!];
    const third = await ensureLocalCertificates({ dir, cluster: 'local', instances: moved, days: 30 });
    expect(third.created.map((w) => path.relative(dir, w.file))).toEqual(['nodes/alpha.crt', 'nodes/beta.crt']);
    // 28 days on, less than a tenth of the 30-day life is left: everything but the CA is renewed.
    const later = await ensureLocalCertificates({
      dir,
      cluster: 'local',
      instances: moved,
      days: 30,
      now: Date.now() + 28 * 86_400_000,
    });
    expect(later.created).toHaveLength(5);
  });
});
