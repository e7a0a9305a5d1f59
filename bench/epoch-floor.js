// The floor under a consensus epoch on this machine: the same messages between the same number of processes, with
// nothing of triad around them. The initiator sends each member a plan and its value; every member sends its value to
// every other member (one round on K_n), and once it holds all of them reports to the initiator; the epoch ends when
// the initiator holds every report — the same start and end the node measures (consensus_time_seconds).
//
// transport 'grpc': triad's own proto (PeerMessage over one Peer.Link client stream per ordered pair), bare grpc-js.
// transport 'grpc-tls': the same with mutual TLS 1.3 (grpc-js' createSsl, client certificates required): the floor
//   under a cluster running with mTLS, as triad does by default.
// transport 'tcp': newline-delimited JSON over plain sockets, what the machine allows without HTTP/2 at all.
//
// measureFloor() forks one process per member (as `triad up` runs one per node) and returns the epoch times in ms.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { serviceConstructor } from '../dist/protocol/index.js';
import { measurementKeys } from '../dist/consensus/index.js';
import { freePorts } from './lib.js';

const self = fileURLToPath(import.meta.url);

export async function measureFloor({ members, transport, epochs, warmup, gapMs }) {
  const ports = await freePorts(members);
  const names = Array.from({ length: members }, (_, i) => `m${i}`);
  const certs = transport === 'grpc-tls' ? await floorCertificates(names) : undefined;
  const spec = JSON.stringify({ names, ports, transport, epochs, warmup, gapMs, certs });
  const children = names.map((name) => fork(self, [name], { env: { ...process.env, TRIAD_FLOOR: spec } }));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${transport} floor did not finish in 120 s`)), 120_000);
      let ready = 0;
      for (const child of children) {
        child.once('error', reject);
        child.once('exit', (code) => code && reject(new Error(`${transport} floor member exited with ${code}`)));
        child.on('message', (message) => {
          // Every member has its links open: the initiator may start.
          if (message === 'ready' && ++ready === children.length) children[0].send('go');
          if (Array.isArray(message)) {
            clearTimeout(timer);
            resolve(message);
          }
        });
      }
    });
  } finally {
    for (const child of children) child.kill();
    if (certs) rmSync(path.dirname(certs), { recursive: true, force: true });
  }
}

/** A throwaway CA and a certificate per member, made with triad's own generator (ECDSA P-256, as a cluster's). */
async function floorCertificates(names) {
  const { generateCertificates } = await import('../dist/certs/index.js');
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'triad-floor-')), 'certs');
  await generateCertificates({
    dir,
    cluster: 'floor',
    instances: names.map((name) => ({ name, host: '127.0.0.1' })),
    clients: [],
    days: 1,
  });
  return dir;
}

/** One member of the floor cluster: m0 initiates, the others answer. */
async function member(name, { names, ports, transport, epochs, warmup, gapMs, certs }) {
  const index = names.indexOf(name);
  const others = names.filter((n) => n !== name);
  const value = () => measurementKeys.map((_, i) => i * 1.5);
  const received = new Map(); // epoch id → values held
  const reports = new Map(); // epoch id → reports held
  let epochDone;

  const onMessage = (m) => {
    if (m.plan) {
      for (const o of others) send(o, { from: name, round: { epoch_id: m.plan.epoch_id, from: name, value: value() } });
      hold(m.plan.epoch_id); // the plan carries the initiator's value
    } else if (m.round) hold(m.round.epoch_id);
    else if (m.report) {
      const n = (reports.get(m.report.epoch_id) ?? 0) + 1;
      reports.set(m.report.epoch_id, n);
      if (n === others.length) epochDone();
    }
  };
  const hold = (epochId) => {
    const total = (received.get(epochId) ?? 0) + 1;
    received.set(epochId, total);
    // The initiator holds its own final value once it has every member's; only the others report.
    if (total === others.length && index !== 0) {
      received.delete(epochId);
      const report = { epoch_id: epochId, instance: name, snapshot: value(), final: value(), rounds_run: 1 };
      send(names[0], { from: name, report });
    }
  };

  // Messages arrive only after every member said 'ready' (see measureFloor), so `send` is set before it is used.
  const send =
    transport === 'tcp'
      ? await tcpLinks(ports[index], names, ports, onMessage)
      : await grpcLinks(name, ports[index], names, ports, onMessage, transport === 'grpc-tls' ? certs : undefined);
  const go = new Promise((resolve) => process.once('message', resolve));
  process.send('ready');
  if (index !== 0) return;
  await go;
  // The plan triad sends: every edge of K_n and the names of the vector's entries.
  const edges = names.flatMap((a, i) => names.slice(i + 1).map((b) => ({ a, b, weight: 1 })));
  const samples = [];
  for (let e = 0; e < warmup + epochs; e++) {
    const epochId = `${name}-${e}`;
    const done = new Promise((r) => (epochDone = r));
    const start = process.hrtime.bigint();
    const plan = {
      epoch_id: epochId,
      initiator: name,
      participants: names,
      edges,
      step: 1 / names.length,
      rounds: 1,
      round_timeout_ms: 500,
      vector_keys: measurementKeys,
      initiator_value: value(),
    };
    for (const o of others) send(o, { from: name, plan });
    await done;
    reports.delete(epochId);
    if (e >= warmup) samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  process.send(samples);
}

async function grpcLinks(name, port, names, ports, onMessage, certs) {
  // Mutual TLS 1.3 when given certificates: each member serves and dials with its own, checked against the CA.
  let serverCredentials = ServerCredentials.createInsecure();
  let channelCredentials = credentials.createInsecure();
  if (certs) {
    tls.DEFAULT_MIN_VERSION = 'TLSv1.3';
    const ca = readFileSync(path.join(certs, 'ca.crt'));
    const key = readFileSync(path.join(certs, 'nodes', `${name}.key`));
    const cert = readFileSync(path.join(certs, 'nodes', `${name}.crt`));
    serverCredentials = ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: cert }], true);
    channelCredentials = credentials.createSsl(ca, key, cert);
  }
  const server = new Server();
  server.addService(serviceConstructor('Peer').service, {
    Link: (call, callback) => {
      call.on('data', onMessage);
      call.on('end', () => callback(null, {}));
      call.on('error', () => undefined);
    },
    Apply: (_call, callback) => callback(null, {}),
  });
  await new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, serverCredentials, (err) => (err ? reject(err) : resolve())),
  );
  const links = new Map();
  for (const [i, other] of names.entries()) {
    if (other === name) continue;
    // Bare grpc-js: a client per peer, none of triad's channel options or connection owner.
    const Peer = serviceConstructor('Peer');
    const client = new Peer(`127.0.0.1:${ports[i]}`, channelCredentials);
    // A member still starting would fail the stream at once: wait until its server answers.
    await new Promise((resolve, reject) =>
      client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
    );
    links.set(
      other,
      client.Link(() => undefined),
    );
  }
  return (to, message) => links.get(to).write(message);
}

async function tcpLinks(port, names, ports, onMessage) {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        onMessage(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const links = new Map();
  for (const [i, other] of names.entries()) {
    if (ports[i] === port) continue;
    links.set(other, await connectWithRetry(ports[i]));
  }
  return (to, message) => links.get(to).write(`${JSON.stringify(message)}\n`);
}

/** A member that is still starting refuses connections for a moment: retry for up to 10 s. */
async function connectWithRetry(port) {
  for (let attempt = 0; ; attempt++) {
    try {
      const socket = net.connect(port, '127.0.0.1');
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.setNoDelay(true);
      return socket;
    } catch (err) {
      if (attempt >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

if (process.env.TRIAD_FLOOR && process.argv[2]) await member(process.argv[2], JSON.parse(process.env.TRIAD_FLOOR));
