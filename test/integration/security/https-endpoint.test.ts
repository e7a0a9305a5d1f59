import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { certificateLayout } from '../../../src/certs/index.js';
import { TestCluster } from '../../fixtures/cluster.js';

// Found by the fault suite (test/faults): a node whose /metrics, /health, /ready serve HTTPS (`http.tls: on`, or any
// host that is not loopback) died at start with "tls.current is not a function".
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ names: ['alpha'], extraYaml: 'http:\n  tls: on' });
});

afterAll(async () => {
  await cluster?.stop();
});

function getHealth(address: string, ca: Buffer): Promise<{ status: number; body: string }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path: '/health', ca, servername: host, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a node serving HTTPS on its health endpoint starts and answers over TLS with its certificate', async () => {
  const ca = readFileSync(certificateLayout(cluster.config.certsDir!).caCert);
  const address = cluster.instance('alpha').http;
  const deadline = Date.now() + 20_000;
  let last: unknown;
  for (;;) {
    try {
      const res = await getHealth(address, ca);
      expect(res.status).toBe(200);
      break;
    } catch (err) {
      last = err;
      expect(cluster.processes.get('alpha')?.exitCode ?? null, `node exited; last error ${String(last)}`).toBeNull();
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  expect(path.isAbsolute(cluster.config.certsDir!)).toBe(true);
});
