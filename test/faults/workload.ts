import { randomUUID } from 'node:crypto';
import type { Client } from '@grpc/grpc-js';
import { recordOperations } from '../../src/connections/index.js';
import {
  callServerStream,
  callUnary,
  type MutationEvent,
  type MutationRequest,
  type NodeState,
} from '../../src/protocol/index.js';
import { TriadError } from '../../src/shared/index.js';
import { createServiceClient } from '../fixtures/grpc.js';
import type { FaultCluster } from './cluster.js';
import type { ForcedSync, IngestCall, MutationCall, Outcome, StatePoll } from './history.js';

/** Errors after which nothing happened: refused before any write, or never sent. Anything else may have happened. */
const definite = new Set(['GATE_REFUSED', 'LOCK_HELD', 'INPUT_INVALID', 'USAGE', 'NOT_FOUND', 'PERMISSION_DENIED']);

function classify(err: unknown): { outcome: Outcome; error: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof TriadError && definite.has(err.code)) return { outcome: 'failed', error: message };
  // grpc-js says this when no connection to the node was ever made: the request was not sent.
  if (/No connection established/.test(message)) return { outcome: 'failed', error: message };
  return { outcome: 'unknown', error: message };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The load a scenario runs while its faults happen (issue 14): three operator clients changing the desired state
 * with correlation ids, ingest clients at a steady rate retrying with the same operation ids, forced syncs, and a
 * poller that records every node's GetState. Each loop records every call; stop() ends them all and waits.
 */
export class Workload {
  readonly mutations: MutationCall[] = [];
  readonly ingests: IngestCall[] = [];
  readonly polls: StatePoll[] = [];
  readonly forcedSyncs: ForcedSync[] = [];
  private running = true;
  private loading = true;
  private readonly loops: Promise<void>[] = [];
  private readonly load: Promise<void>[] = [];
  private readonly clients: Client[] = [];

  constructor(private readonly cluster: FaultCluster) {}

  private client(service: 'Admin' | 'Node' | 'Ingest', node: string): Client {
    const role = service === 'Ingest' ? 'ingest' : 'operator';
    const c = createServiceClient(service, this.cluster.grpc(node), role);
    this.clients.push(c);
    return c;
  }

  /** The GetState poller alone: runs from before the workload, so readiness at start is seen too. */
  startPolling(): void {
    for (const node of this.cluster.names) this.loops.push(this.poll(node));
  }

  start(options: { operators?: number; ingestClients?: number; ingestEveryMs?: number } = {}): void {
    const names = this.cluster.names;
    for (let i = 0; i < (options.operators ?? 3); i++)
      this.load.push(this.operate(`op${i + 1}`, names[i % names.length]!));
    for (let i = 0; i < (options.ingestClients ?? 3); i++)
      this.load.push(this.ingest(`ingest${i + 1}`, i, options.ingestEveryMs ?? 200));
    this.load.push(this.forceSyncs());
  }

  /** Ends the clients' load (the poller goes on), so convergence is judged on a version that stays the latest. */
  async stopLoad(): Promise<void> {
    this.loading = false;
    await Promise.all(this.load);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    await this.stopLoad();
    this.running = false;
    await Promise.all(this.loops);
    for (const c of this.clients) c.close();
  }

  private async poll(node: string): Promise<void> {
    const client = this.client('Node', node);
    while (this.running) {
      const atMs = Date.now();
      try {
        const s = await callUnary<object, NodeState>(client, 'GetState', {}, { deadlineMs: 500 });
        this.polls.push({
          node,
          atMs,
          answered: true,
          startedAtMs: s.started_at_ms,
          appliedVersion: s.applied_version,
          leader: s.leader,
          ready: s.ready,
          reasons: s.not_ready_reasons,
          consensusError: s.consensus.has_epoch ? s.consensus.error : 0,
          unreachable: s.consensus.unreachable,
        });
      } catch {
        this.polls.push({
          node,
          atMs,
          answered: false,
          startedAtMs: 0,
          appliedVersion: 0,
          leader: false,
          ready: false,
          reasons: [],
          consensusError: 0,
          unreachable: [],
        });
      }
      await sleep(150);
    }
  }

  /** One operator: a change every ~300 ms through its own node, failing over to the next one it can reach. */
  private async operate(name: string, home: string): Promise<void> {
    const names = this.cluster.names;
    let n = 0;
    let target = home;
    const admins = new Map(names.map((node) => [node, this.client('Admin', node)]));
    while (this.loading) {
      n++;
      const instance = names[(n + name.length) % names.length]!;
      const roll = Math.random();
      const latest = this.mutations.filter((m) => m.version !== undefined).map((m) => m.version!);
      let kind: MutationCall['kind'];
      let command: Omit<MutationRequest, 'options'>;
      if (roll < 0.45) {
        kind = 'activate';
        command = {
          command: 'activate',
          activate: { layers: ['R1'], instances: [instance], percentage: 5 + Math.floor(Math.random() * 95) },
        };
      } else if (roll < 0.65) {
        kind = 'deactivate';
        command = { command: 'deactivate', deactivate: { layers: ['R1'], instances: [instance], cascade: false } };
      } else if (roll < 0.9 || latest.length === 0) {
        kind = 'framework';
        command = {
          command: 'framework',
          framework: { framework_id: 'R1_BASELINE_BURDEN_TRACKING', enabled: Math.random() < 0.5 },
        };
      } else {
        kind = 'rollback';
        command = { command: 'rollback', rollback: { to: String(latest[Math.floor(Math.random() * latest.length)]) } };
      }
      const correlationId = `${name}-${n}-${randomUUID().slice(0, 8)}`;
      const call: MutationCall = {
        client: name,
        correlationId,
        kind,
        target,
        invokeMs: Date.now(),
        completeMs: 0,
        outcome: 'unknown',
      };
      let written: number | undefined;
      let noop = false;
      try {
        await callServerStream<MutationRequest, MutationEvent>(
          admins.get(target)!,
          'Mutate',
          {
            ...command,
            options: { dry_run: false, force: true, reason: 'fault suite', label: '', timeout_ms: 2_000, actor: name },
          },
          {
            deadlineMs: 8_000,
            context: { correlation_id: correlationId },
            onMessage: (e) => {
              const plan = e.committed ?? e.result?.plan;
              if (plan && plan.after_version > plan.before_version) written = plan.after_version;
              if (e.result && e.result.plan.after_version === e.result.plan.before_version) noop = true;
            },
          },
        );
        call.outcome = 'ok';
      } catch (err) {
        const c = classify(err);
        // A committed event means it is written, whatever happened to the stream after.
        call.outcome = written !== undefined ? 'ok' : c.outcome;
        call.error = c.error;
        if (c.outcome !== 'ok' && written === undefined) target = names[(names.indexOf(target) + 1) % names.length]!;
      }
      call.completeMs = Date.now();
      if (written !== undefined) call.version = written;
      if (noop && written === undefined) call.noop = true;
      if (call.outcome === 'ok' && written === undefined && !noop) call.outcome = 'unknown';
      this.mutations.push(call);
      await sleep(200 + Math.random() * 200);
    }
  }

  /**
   * An ingest client of one node (a node counts only its own instance's operations, so the client sends them there):
   * a batch of 5 operations with its own ids every `everyMs`, retried unchanged up to 5 times.
   */
  private async ingest(name: string, offset: number, everyMs: number): Promise<void> {
    const names = this.cluster.names;
    const node = names[offset % names.length]!;
    const client = this.client('Ingest', node);
    while (this.loading) {
      const ids = Array.from({ length: 5 }, () => randomUUID());
      const now = Date.now();
      const operations = ids.map((operation_id) => ({
        operation_id,
        framework_id: 'R1_BASELINE_BURDEN_TRACKING',
        instance: node,
        started_at_ms: now,
        duration_ms: 10,
        burden_saved_hours: 0.01,
        success: true,
      }));
      const call: IngestCall = {
        client: `${name}@${node}`,
        operationIds: ids,
        invokeMs: now,
        completeMs: 0,
        outcome: 'unknown',
        accepted: [],
        attempts: 0,
      };
      let mayHaveLanded = false;
      for (let attempt = 0; attempt < 5 && call.outcome !== 'ok'; attempt++) {
        call.attempts++;
        try {
          const reply = await recordOperations(client, operations, { deadlineMs: 2_000 });
          call.accepted = reply.results.filter((r) => r.accepted).map((r) => r.operation_id);
          const refused = reply.results.find((r) => !r.accepted);
          if (refused) call.error = refused.reason;
          else delete call.error;
          call.outcome = 'ok';
        } catch (err) {
          const c = classify(err);
          // Once any attempt may have landed, the batch stays unknown even if every later one fails definitely.
          if (c.outcome === 'unknown') mayHaveLanded = true;
          call.outcome = mayHaveLanded ? 'unknown' : 'failed';
          call.error = c.error;
          await sleep(200);
        }
      }
      call.completeMs = Date.now();
      this.ingests.push(call);
      await sleep(everyMs);
    }
  }

  /** Forced syncs on a node at random every ~1.5 s, next to the leader's interval epochs. */
  private async forceSyncs(): Promise<void> {
    const names = this.cluster.names;
    const admins = names.map((node) => this.client('Admin', node));
    while (this.loading) {
      await sleep(1_500);
      const i = Math.floor(Math.random() * names.length);
      const sync: ForcedSync = { node: names[i]!, invokeMs: Date.now(), completeMs: 0 };
      try {
        const outcome = await callUnary<object, { epoch_id: string }>(
          admins[i]!,
          'ForceConsensusSync',
          {},
          { deadlineMs: 3_000 },
        );
        sync.epochId = outcome.epoch_id;
      } catch {
        // Recorded with its window: an epoch it started may still be stored.
      }
      sync.completeMs = Date.now();
      this.forcedSyncs.push(sync);
    }
  }
}
