// A 3-member etcd (Debian's etcd-server) on loopback, for the reference figure the layer-activation benchmark puts
// beside ours: a put, until every member serves it. Started and stopped by PID; data in a temp dir.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent } from 'node:http';
import { freePorts, percentile } from './lib.js';

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const b64 = (s) => Buffer.from(s).toString('base64');

async function post(port, route, body) {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: route,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${route}: ${res.statusCode} ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export async function startEtcd() {
  // Said before anything starts, instead of an unhandled spawn error halfway through a run.
  if (spawnSync('etcd', ['--version']).error) {
    throw new Error('etcd is not installed: the reference figure needs it (apt-get install -y etcd-server)');
  }
  const ports = await freePorts(6);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'triad-etcd-'));
  const members = [0, 1, 2].map((i) => ({ name: `e${i}`, client: ports[2 * i], peer: ports[2 * i + 1] }));
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs = members.map((m) =>
    spawn(
      'etcd',
      [
        '--name',
        m.name,
        '--data-dir',
        path.join(dir, m.name),
        '--listen-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'triad-bench',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await Promise.all(members.map((m) => post(m.client, '/v3/kv/put', { key: b64('warm'), value: b64('1') })));
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('etcd did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    /** Put through member 0, then poll every member (serializable reads are served locally) until all have it. */
    async putUntilSeen(key, value) {
      const start = process.hrtime.bigint();
      const put = await post(members[0].client, '/v3/kv/put', { key: b64(key), value: b64(value) });
      const revision = Number(put.header.revision);
      await Promise.all(
        members.map(async (m) => {
          for (;;) {
            const r = await post(m.client, '/v3/kv/range', { key: b64(key), serializable: true });
            if (
              Number(r.header.revision) >= revision &&
              r.kvs?.[0] &&
              Buffer.from(r.kvs[0].value, 'base64').toString() === value
            )
              return;
          }
        }),
      );
      return Number(process.hrtime.bigint() - start) / 1e6;
    },
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise((resolve) => {
              if (p.exitCode !== null) return resolve();
              p.once('exit', resolve);
              p.kill('SIGTERM');
            }),
        ),
      );
      agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function measureEtcd(n) {
  const etcd = await startEtcd();
  try {
    for (let i = 0; i < 50; i++) await etcd.putUntilSeen('warmup', String(i));
    const samples = [];
    for (let i = 0; i < n; i++) samples.push(await etcd.putUntilSeen('triad-bench', String(i)));
    return samples;
  } finally {
    await etcd.stop();
  }
}

export { percentile };
