import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Client, credentials, Metadata, status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { certificateLayout, type Role } from '../../../src/certs/index.js';
import { issueLeaf, loadCa } from '../../../src/certs/x509.js';
import { createConnections, mutualTlsCredentials } from '../../../src/connections/index.js';
import { methodRoles } from '../../../src/edges/index.js';
import { callUnary, serviceConstructor, type NodeState, type PeerMessage } from '../../../src/protocol/index.js';
import { runTriad, scrapeValue, TestCluster, waitFor, writeClusterConfig } from '../../fixtures/cluster.js';
import { createServiceClient } from '../../fixtures/grpc.js';

/** Client credentials from files, the way a stock grpc-js client would hold them. */
function clientWith(address: string, files: { ca: string; cert?: string; key?: string }): Client {
  const creds = credentials.createSsl(
    readFileSync(files.ca),
    files.key ? readFileSync(files.key) : null,
    files.cert ? readFileSync(files.cert) : null,
  );
  return new (serviceConstructor('Node'))(address, creds);
}

/** The code and details a call ended with (or "OK"). */
async function outcome(call: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await call;
    return { code: 'OK', details: '' };
  } catch (err) {
    const e = err as { code?: string | number; cause?: ServiceError; detail?: string; details?: string };
    const grpcCode = e.cause?.code ?? (typeof e.code === 'number' ? e.code : undefined);
    return {
      code: grpcCode !== undefined ? (status[grpcCode] ?? String(grpcCode)) : String(e.code),
      details: e.cause?.details ?? e.details ?? e.detail ?? '',
    };
  }
}

describe('mutual TLS, roles and identity on a real cluster', () => {
  let cluster: TestCluster;
  let layout: ReturnType<typeof certificateLayout>;
  const scratch = mkdtempSync(path.join(tmpdir(), 'triad-mtls-'));
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);
  const versions = async () =>
    Number(
      (await cluster.db!.pool.query<{ n: string }>('SELECT count(*) AS n FROM desired_state_versions')).rows[0]!.n,
    );

  beforeAll(async () => {
    cluster = await TestCluster.start({ extraYaml: 'consensus:\n  interval: 300ms\n' });
    layout = certificateLayout(cluster.config.certsDir!);
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('a client without a certificate, with one of another CA, or an expired one gets UNAUTHENTICATED', async () => {
    const address = cluster.instance('alpha').grpc;
    const getState = (client: Client) => callUnary<object, NodeState>(client, 'GetState', {}, { deadlineMs: 5_000 });

    expect(await outcome(getState(clientWith(address, { ca: layout.caCert })))).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'no client certificate: triad needs mutual TLS (see triad certs)',
    });

    // Another cluster's CA: its certificates look right but nobody here signed them.
    const other = path.join(scratch, 'other');
    expect(
      (
        await runTriad([
          'certs',
          'generate',
          '--out',
          other,
          '--operator',
          'mallory',
          '--config',
          cluster.config.clusterFile,
        ])
      ).code,
    ).toBe(0);
    const foreign = certificateLayout(other).client('operator', 'mallory');
    const refused = await outcome(getState(clientWith(address, { ca: layout.caCert, ...foreign })));
    expect(refused).toEqual({
      code: 'UNAUTHENTICATED',
      details: `certificate "CN=mallory\nOU=operator\nO=triad" is not issued by this cluster's CA`,
    });

    // Signed by the right CA, but its validity ended yesterday.
    const ca = await loadCa({ cert: readFileSync(layout.caCert, 'utf8'), key: readFileSync(layout.caKey, 'utf8') });
    const expired = await issueLeaf(
      ca,
      { cluster: 'test', role: 'operator', name: 'old', days: 1 },
      Date.now() - 3 * 86_400_000,
    );
    const expiredFiles = { cert: path.join(scratch, 'old.crt'), key: path.join(scratch, 'old.key') };
    writeFileSync(expiredFiles.cert, expired.cert);
    writeFileSync(expiredFiles.key, expired.key);
    const late = await outcome(getState(clientWith(address, { ca: layout.caCert, ...expiredFiles })));
    expect(late.code).toBe('UNAUTHENTICATED');
    expect(late.details).toMatch(/^certificate "CN=old\nOU=operator\nO=triad" expired at /);
    expect(
      await scrapeValue(cluster.instance('alpha').http, 'triad_calls_refused_total{reason="unauthenticated"}'),
    ).toBeGreaterThanOrEqual(3);
  });

  test('a stock client speaking plaintext, and one offering only TLS 1.2, fail at the handshake', async () => {
    const address = cluster.instance('alpha').grpc;
    const plain = new (serviceConstructor('Node'))(address, credentials.createInsecure());
    expect((await outcome(callUnary(plain, 'GetState', {}, { deadlineMs: 3_000 }))).code).toMatch(
      /UNAVAILABLE|INTERNAL|PEER_UNAVAILABLE|DEADLINE_EXCEEDED/,
    );
    plain.close();
    const [host, port] = address.split(':');
    const old = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host, port: Number(port), maxVersion: 'TLSv1.2', ca: readFileSync(layout.caCert) });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(old).toMatch(/ERR_SSL_|EPROTO|ECONNRESET|alert/i);
  });

  test('every method of every service, called with every role: allowed ones get past the edge, others are denied', async () => {
    const services: [string, ServiceDefinition][] = [
      ['Node', serviceConstructor('Node').service],
      ['Peer', serviceConstructor('Peer').service],
      ['Admin', serviceConstructor('Admin').service],
      ['Ingest', serviceConstructor('Ingest').service],
      ['Rollouts', serviceConstructor('Rollouts').service],
      ['Health', healthService],
    ];
    const address = cluster.instance('beta').grpc;
    const roles: Role[] = ['node', 'operator', 'viewer', 'ingest'];
    const denied = (details: string) => / needs the .* role; /.test(details);
    const seen: string[] = [];
    for (const role of roles) {
      const files = role === 'node' ? layout.node('gamma') : layout.client(role, 'local');
      const connections = createConnections(mutualTlsCredentials({ ca: layout.caCert, ...files }, 3_600_000));
      // Any grpc-js client can call any method by its path: the Node client's channel carries them all.
      const client = connections.client('Node', address);
      try {
        for (const [, definition] of services) {
          for (const method of Object.values(definition)) {
            const allowed = (methodRoles[method.path] ?? []).includes(role);
            const result = await callRaw(client, method);
            seen.push(`${role} ${method.path}`);
            if (allowed) {
              expect(denied(result.details), `${role} → ${method.path}: ${result.code} ${result.details}`).toBe(false);
              expect(result.code, `${role} → ${method.path}`).not.toBe('UNAUTHENTICATED');
            } else {
              expect([result.code, denied(result.details)], `${role} → ${method.path}: ${result.details}`).toEqual([
                'PERMISSION_DENIED',
                true,
              ]);
            }
          }
        }
      } finally {
        connections.close();
      }
    }
    // Every method has a row, and every row is a method: the table and the protos cannot drift apart.
    const methods = services.flatMap(([, d]) => Object.values(d).map((m) => m.path)).sort();
    expect(Object.keys(methodRoles).sort()).toEqual(methods);
    expect(seen).toHaveLength(methods.length * roles.length);
  });

  test('a viewer cannot change anything and an ingest client cannot read state; nothing is written', async () => {
    const before = await versions();
    const viewer = createServiceClient('Admin', cluster.instance('alpha').grpc, 'viewer');
    const change = await outcome(
      new Promise((resolve, reject) => {
        const call = (viewer as unknown as { Mutate: (r: object, m: Metadata) => NodeJS.EventEmitter }).Mutate(
          { command: 'emergency_disable', emergency_disable: {}, options: { reason: 'viewer tries' } },
          new Metadata(),
        );
        call.on('data', () => undefined);
        call.on('error', (err: ServiceError) => reject(Object.assign(new Error(err.details), { cause: err })));
        call.on('end', resolve);
      }),
    );
    expect(change).toEqual({
      code: 'PERMISSION_DENIED',
      details: '/triad.v1.Admin/Mutate needs the operator role; "CN=local,OU=viewer,O=triad" is viewer',
    });
    const ingest = createServiceClient('Node', cluster.instance('alpha').grpc, 'ingest');
    expect(await outcome(callUnary(ingest, 'GetState', {}, { deadlineMs: 3_000 }))).toEqual({
      code: 'PERMISSION_DENIED',
      details:
        '/triad.v1.Node/GetState needs the node or operator or viewer role; "CN=local,OU=ingest,O=triad" is ingest',
    });
    viewer.close();
    ingest.close();
    expect(await versions()).toBe(before);
    // The CLI with a viewer certificate is refused the same way, exit 3.
    const cli = await triad(
      'deactivate-layers',
      '--layers',
      'R1',
      '--cert',
      layout.client('viewer', 'local').cert,
      '--key',
      layout.client('viewer', 'local').key,
    );
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain('[PERMISSION_DENIED] /triad.v1.Admin/Mutate needs the operator role');
    expect(await versions()).toBe(before);
  });

  test('a node certificate speaking for another instance is dropped and counted; the forged outcome is not taken', async () => {
    const alpha = cluster.instance('alpha');
    const lastEpoch = async () =>
      (
        await callUnary<object, NodeState>(
          createServiceClient('Node', alpha.grpc),
          'GetState',
          {},
          { deadlineMs: 3_000 },
        )
      ).consensus;
    const rejectedBefore =
      (await scrapeValue(alpha.http, 'triad_peer_messages_rejected_total{reason="from_mismatch"}')) ?? 0;
    // beta's certificate, claiming to be gamma, publishes an outcome dated far in the future that says consensus failed.
    const peer = createServiceClient('Peer', alpha.grpc, 'node', 'beta');
    const forged: PeerMessage = {
      from: 'gamma',
      outcome: {
        epoch_id: 'forged-1',
        initiator: 'gamma',
        topology: 'K3',
        started_at_ms: Date.now() + 86_400_000,
        time_seconds: 0.001,
        error: 0.9,
        converged: false,
        rounds: 1,
        lambda2: 3,
        step: 1 / 3,
        epsilon: 1e-6,
        unreachable: ['alpha', 'beta'],
        members: [],
        vector_keys: [],
        agreed: [],
      },
    };
    await new Promise<void>((resolve, reject) => {
      const link = (peer as unknown as { Link: (cb: (err: Error | null) => void) => NodeJS.WritableStream }).Link(
        (err) => (err ? reject(err) : resolve()),
      );
      link.write(forged as never);
      setTimeout(() => link.end(), 200);
    });
    peer.close();
    await waitFor(
      async () =>
        ((await scrapeValue(alpha.http, 'triad_peer_messages_rejected_total{reason="from_mismatch"}')) ?? 0) >
        rejectedBefore,
      5_000,
      'the rejection to be counted',
    );
    const epoch = await lastEpoch();
    expect(epoch.epoch_id).not.toBe('forged-1');
    expect(epoch.converged).toBe(true);
  });

  test("an operator's change is audited with the certificate's subject; the CLI's user goes as on_behalf_of", async () => {
    const result = await triad('activate-layers', '--layers', 'R1', '--force', '--reason', 'who did this');
    expect(result.code, result.stderr).toBe(0);
    const { rows } = await cluster.db!.pool.query<{ actor: string; on_behalf_of: string; created_by: string }>(
      `SELECT a.actor, a.on_behalf_of, v.created_by FROM audit_log a JOIN desired_state_versions v ON v.version = a.after_version
        ORDER BY a.id DESC LIMIT 1`,
    );
    expect(rows[0]).toMatchObject({
      actor: 'CN=local,OU=operator,O=triad',
      created_by: 'CN=local,OU=operator,O=triad',
    });
    expect(rows[0]!.on_behalf_of).toMatch(/^.+@.+$/);
  });

  test('rotation under load: new certificates are served without a restart, epochs keep converging and no call is refused', async () => {
    const alpha = cluster.instance('alpha');
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const [host, port] = alpha.grpc.split(':');
        const socket = tls.connect({
          host,
          port: Number(port),
          ca: readFileSync(layout.caCert),
          cert: readFileSync(layout.client('viewer', 'local').cert),
          key: readFileSync(layout.client('viewer', 'local').key),
          ALPNProtocols: ['h2'],
          servername: 'localhost',
        });
        socket.once('secureConnect', () => {
          const serial = new X509Certificate(socket.getPeerX509Certificate()!.raw).serialNumber;
          socket.destroy();
          resolve(serial);
        });
        socket.once('error', reject);
      });
    // A peer whose handshake failed across the switch is refused as unauthenticated by the node it dials. (Diverged
    // epochs are no signal here: on a starved machine a round's deadline passes with or without a rotation.)
    const refused = async () =>
      Promise.all(
        cluster.config.instances.map(
          async (i) => (await scrapeValue(i.http, 'triad_calls_refused_total{reason="unauthenticated"}')) ?? 0,
        ),
      );
    const converged = async () =>
      (await scrapeValue(alpha.http, 'consensus_epochs_total{topology="K3",result="converged"}')) ?? 0;
    const before = await served();
    const refusedBefore = await refused();
    const epochsBefore = await converged();
    const rotated = await triad('certs', 'rotate', '--days', '20');
    expect(rotated.code, rotated.stderr).toBe(0);
    const newSerial = new X509Certificate(readFileSync(layout.node('alpha').cert)).serialNumber;
    expect(newSerial).not.toBe(before);
    await waitFor(async () => (await served()) === newSerial, 10_000, 'alpha to serve its new certificate');
    // Epochs every 300 ms kept running across the switch, and no node refused a peer or the CLI.
    await waitFor(async () => (await converged()) >= epochsBefore + 5, 10_000, 'five more converged epochs');
    expect(await refused()).toEqual(refusedBefore);
    for (const i of cluster.config.instances) {
      for (const peer of cluster.config.instances.filter((p) => p.name !== i.name)) {
        expect(await scrapeValue(i.http, `peer_reachable{peer="${peer.name}"}`), `${i.name} sees ${peer.name}`).toBe(1);
      }
    }
    // The CLI, with the rotated operator certificate, still works.
    expect((await triad('status', '--json')).code).toBe(0);
  });
});

describe('plaintext is for loopback only', () => {
  test('--insecure with a non-loopback address is refused with exit 2, naming the file, line and field', async () => {
    const config = await writeClusterConfig({ insecure: true });
    const file = config.clusterFile;
    writeFileSync(file, readFileSync(file, 'utf8').replace('host: 127.0.0.1, grpc_port', 'host: 10.1.2.3, grpc_port'));
    const node = await runTriad(['node', '--instance', 'alpha', '--config', file, '--insecure'], {
      env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    });
    expect(node.code).toBe(2);
    expect(node.stderr).toMatch(
      /\[CONFIG_INVALID\] .*cluster\.yaml:\d+:\d+: instances\.0\.host: 10\.1\.2\.3 is not loopback: (tls\.enabled: false|--insecure) \(plaintext gRPC\) is allowed only when every instance is on loopback/,
    );
    rmSync(config.dir, { recursive: true, force: true });
  });
});

/** One call of any method with an empty request: unary, server-, client- or bidi-streaming alike. */
function callRaw(client: Client, method: ServiceDefinition[string]): Promise<{ code: string; details: string }> {
  return new Promise((resolve) => {
    const done = (err: ServiceError | null) =>
      resolve(err ? { code: status[err.code] ?? String(err.code), details: err.details } : { code: 'OK', details: '' });
    const serialize = method.requestSerialize as (v: object) => Buffer;
    const deserialize = method.responseDeserialize as (b: Buffer) => unknown;
    const options = { deadline: Date.now() + 5_000 };
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(method.path, serialize, deserialize, {}, new Metadata(), options, (err) => done(err));
    } else if (!method.requestStream) {
      const call = client.makeServerStreamRequest(method.path, serialize, deserialize, {}, new Metadata(), options);
      call.on('data', () => {
        call.cancel(); // Health/Watch streams forever: getting past the edge is all this asks
        done(null);
      });
      call.on('error', (err: ServiceError) => (err.code === status.CANCELLED ? done(null) : done(err)));
      call.on('end', () => done(null));
    } else {
      const call = client.makeClientStreamRequest(method.path, serialize, deserialize, new Metadata(), options, (err) =>
        done(err),
      );
      call.end();
    }
  });
}
