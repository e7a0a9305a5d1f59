import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { certificateLayout, generateCertificates } from '../../../src/certs/index.js';
import { createRedisLiveState } from '../../../src/live-state/index.js';
import { createPool, startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/storage/index.js';
import { lookupUser } from '../../../src/storage/embedded-files.js';
import { freePorts } from '../../fixtures/ports.js';
import { embeddedDataDir } from '../../fixtures/postgres.js';
import { requireCommand } from '../../fixtures/services.js';

// DESIGN §8: DATABASE_URL with sslmode=verify-full and rediss:// for Redis work, with a private CA. Real servers: the
// embedded PostgreSQL engine with ssl=on and a redis-server with a TLS port, both with certificates from triad's own CA.
describe('TLS to PostgreSQL and Redis with the cluster CA', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'triad-storage-tls-'));
  const certs = path.join(dir, 'certs');
  let layout: ReturnType<typeof certificateLayout>;
  let pg: EmbeddedPostgres;
  let redis: ChildProcess | undefined;
  let redisPort: number;

  beforeAll(async () => {
    // A "node" certificate for 127.0.0.1 serves as the servers' certificate; the other CA is one nobody here trusts.
    await generateCertificates({
      dir: certs,
      cluster: 'storage',
      instances: [{ name: 'db', host: '127.0.0.1' }],
      clients: [],
      days: 2,
    });
    await generateCertificates({ dir: path.join(dir, 'other'), cluster: 'other', instances: [], clients: [], days: 2 });
    layout = certificateLayout(certs);

    // PostgreSQL reads its key as the account it runs as (nobody under root) and wants it 0600.
    const dataDir = embeddedDataDir();
    const serverCert = path.join(dataDir, 'server.crt');
    const serverKey = path.join(dataDir, 'server.key');
    copyFileSync(layout.node('db').cert, serverCert);
    copyFileSync(layout.node('db').key, serverKey);
    chmodSync(serverKey, 0o600);
    if (process.getuid?.() === 0) {
      const nobody = lookupUser('nobody');
      chownSync(serverCert, nobody.uid, nobody.gid);
      chownSync(serverKey, nobody.uid, nobody.gid);
    }
    pg = await startEmbeddedPostgres({
      dataDir,
      settings: { ssl: 'on', ssl_cert_file: serverCert, ssl_key_file: serverKey, ssl_min_protocol_version: 'TLSv1.3' },
    });

    const binary = requireCommand('redis-server', 'apt-get install -y redis-server');
    redisPort = (await freePorts(1))[0]!;
    redis = spawn(
      binary,
      [
        '--port',
        '0',
        '--tls-port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        layout.node('db').cert,
        '--tls-key-file',
        layout.node('db').key,
        '--tls-ca-cert-file',
        layout.caCert,
        '--tls-auth-clients',
        'no',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
  }, 90_000);

  afterAll(async () => {
    redis?.kill();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const withSsl = (url: string, mode: string, ca: string) => {
    const u = new URL(url);
    u.searchParams.set('sslmode', mode);
    u.searchParams.set('sslrootcert', ca);
    return u.toString();
  };

  test('DATABASE_URL with sslmode=verify-full and the CA: TLS 1.3, the server checked; another CA is refused', async () => {
    const good = createPool(withSsl(pg.url, 'verify-full', layout.caCert), { applicationName: 'triad-test' });
    try {
      const { rows } = await good.query<{ ssl: boolean; version: string }>(
        'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows[0]).toEqual({ ssl: true, version: 'TLSv1.3' });
    } finally {
      await good.end();
    }
    const wrong = createPool(withSsl(pg.url, 'verify-full', certificateLayout(path.join(dir, 'other')).caCert), {
      applicationName: 'triad-test',
    });
    try {
      await expect(wrong.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    } finally {
      await wrong.end();
    }
  });

  test('rediss:// with the CA (TRIAD_REDIS_CA): live state works over TLS; without the CA the certificate is refused', async () => {
    const url = `rediss://127.0.0.1:${redisPort}`;
    const good = createRedisLiveState(url, { keyPrefix: 'triad_tls_test:', tlsCa: readFileSync(layout.caCert) });
    try {
      await good.putConsensusState('alpha', { epoch_id: 'e1' });
      expect(await good.getConsensusState()).toEqual({ alpha: { epoch_id: 'e1' } });
    } finally {
      await good.close();
    }
    const untrusted = createRedisLiveState(url, { keyPrefix: 'triad_tls_test:' });
    try {
      await expect(untrusted.getConsensusState()).rejects.toThrow();
    } finally {
      await untrusted.close();
    }
  });
});
