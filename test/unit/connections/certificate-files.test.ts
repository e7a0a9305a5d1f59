import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { certificateLayout, generateCertificates, rotateCertificates } from '../../../src/certs/index.js';
import { CertificateFiles } from '../../../src/connections/index.js';
import { TriadError } from '../../../src/shared/index.js';

const root = mkdtempSync(path.join(tmpdir(), 'triad-cert-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const instances = [
  { name: 'alpha', host: '127.0.0.1' },
  { name: 'beta', host: '127.0.0.1' },
];

test('a rotation is taken once its key matches its certificate; a half-written one keeps the working pair', async () => {
  const dir = path.join(root, 'certs');
  await generateCertificates({ dir, cluster: 'c', instances, clients: [], days: 5 });
  const layout = certificateLayout(dir);
  const files = new CertificateFiles({ ca: layout.caCert, ...layout.node('alpha') }, 3_600_000);
  const told: string[] = [];
  files.onChange(() => told.push('changed'));
  const identities: Buffer[] = [];
  files.addIdentityCertificateListener((update) => update && identities.push(update.certificate));
  try {
    const first = files.current().cert;
    expect(files.reload()).toBe(false); // nothing changed on disk
    // A key that is not the certificate's (beta's key beside alpha's certificate): refused, the old pair stays.
    copyFileSync(layout.node('beta').key, layout.node('alpha').key);
    expect(files.reload()).toBe(false);
    expect(files.current().cert.equals(first)).toBe(true);
    await rotateCertificates({ dir, cluster: 'c', instances, days: 5 });
    expect(files.reload()).toBe(true);
    expect(files.current().cert.equals(readFileSync(layout.node('alpha').cert))).toBe(true);
    expect(files.current().cert.equals(first)).toBe(false);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(told).toEqual(['changed']);
    // The listener got the pair in force when it was added, then the rotated one.
    expect(identities.map((c) => c.equals(first))).toEqual([true, false]);
  } finally {
    files.close();
  }
});

test('missing files fail at start with what to run', () => {
  const dir = path.join(root, 'missing');
  const layout = certificateLayout(dir);
  let err: unknown;
  try {
    new CertificateFiles({ ca: layout.caCert, ...layout.node('alpha') }, 1_000).close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TriadError);
  expect((err as TriadError).code).toBe('STARTUP_FAILED');
  expect((err as TriadError).message).toContain("'triad certs generate --out DIR' makes a cluster's certificates");
});
