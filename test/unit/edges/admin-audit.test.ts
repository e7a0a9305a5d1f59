import { Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { adminService, type AdminServiceDeps } from '../../../src/edges/index.js';
import { callerKey } from '../../../src/protocol/index.js';
import type { AuditEntry } from '../../../src/storage/index.js';

type Layers = AdminServiceDeps['layers'];
type Consensus = AdminServiceDeps['consensus'];
type Runtime = AdminServiceDeps['runtime'];

/** The Admin edge with its components reduced to what these tests watch: who was audited, what ran, in which order. */
function edge(auditFails: boolean) {
  const events: string[] = [];
  const audited: AuditEntry[] = [];
  const layers = {
    audit: (entry: AuditEntry) => {
      if (auditFails) return Promise.reject(new Error('audit store refuses'));
      events.push(`audit ${entry.command}`);
      audited.push(entry);
      return Promise.resolve();
    },
  } as unknown as Layers;
  const consensus = {
    runEpoch: () => {
      events.push('epoch');
      return Promise.reject(new Error('no epoch in this test'));
    },
  } as unknown as Consensus;
  const runtime = {
    runR6: () => {
      events.push('r6');
      return Promise.reject(new Error('no R6 in this test'));
    },
  } as unknown as Runtime;
  const service = adminService({
    log: pino({ level: 'silent' }),
    layers,
    consensus,
    runtime,
    members: ['alpha', 'beta', 'gamma'],
  });
  const call = (method: string, request: object, role = 'operator') =>
    new Promise<unknown>((resolve) => {
      const metadata = new Metadata();
      metadata.set(callerKey, JSON.stringify({ role, name: 'alice', subject: `CN=alice,OU=${role},O=triad` }));
      const handler = service[method] as (
        call: Pick<ServerUnaryCall<object, object>, 'request' | 'metadata'>,
        callback: sendUnaryData<object>,
      ) => void;
      handler({ request, metadata }, (err) => resolve(err));
    });
  return { events, audited, call };
}

describe('Admin actions that change no desired state are audited before they act', () => {
  test('ForceConsensusSync and RunR6Orchestration write their row first, naming the verified caller', async () => {
    const { events, audited, call } = edge(false);
    await call('ForceConsensusSync', { instances: ['alpha', 'beta'] });
    await call('RunR6Orchestration', { actor: 'alice@laptop' });
    expect(events).toEqual([
      'audit triad force-consensus-sync --instances alpha,beta',
      'epoch',
      'audit triad run-r6-orchestration',
      'r6',
    ]);
    expect(audited[1]).toMatchObject({
      actor: 'CN=alice,OU=operator,O=triad',
      on_behalf_of: 'alice@laptop',
      outcome: 'requested',
    });
  });

  test('when the row cannot be written, neither the epoch nor R6 runs, and the caller gets the error', async () => {
    const { events, call } = edge(true);
    expect(await call('ForceConsensusSync', { instances: [] })).toMatchObject({ details: 'audit store refuses' });
    expect(await call('RunR6Orchestration', { actor: '' })).toMatchObject({ details: 'audit store refuses' });
    expect(events).toEqual([]);
  });

  test('a forced sync naming an unknown instance is refused before anything is written', async () => {
    const { events, call } = edge(false);
    expect(await call('ForceConsensusSync', { instances: ['alpha', 'zeta'] })).toMatchObject({
      details: 'unknown instance "zeta" (cluster: alpha, beta, gamma)',
    });
    expect(events).toEqual([]);
  });

  test("a node's forward of R6 to the leader is not audited twice: the forwarding node wrote the row", async () => {
    const { events, call } = edge(false);
    await call('RunR6Orchestration', { actor: '' }, 'node');
    expect(events).toEqual(['r6']);
  });
});
