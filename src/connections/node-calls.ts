import type { Client } from '@grpc/grpc-js';
import type { InstanceView } from '../layer-manager/index.js';
import {
  callUnary,
  fromWireFaults,
  fromWireR6,
  toWireFaultRequest,
  type ApplyReply,
  type ApplyRequest,
  type HeartbeatReply,
  type HeartbeatRequest,
  type InjectFaultReply,
  type InjectFaultRequest,
  type NodeState,
  type R6Result,
} from '../protocol/index.js';
import type { FaultChange, FaultsOf, R6Run } from '../runtime/index.js';
import { TriadError, type Clock } from '../shared/index.js';
import type { Connections } from './connections.js';

/** GetState of a peer answers within this, or the peer counts as unreachable for the question asked. */
const stateDeadlineMs = 1_500;
/** A forwarded Admin call (R6 on the leader, a fault on its instance) gets this long. */
const forwardDeadlineMs = 10_000;

/**
 * What one node asks of the others, in the components' terms: heartbeats, the Apply push, their applied state for
 * check-health, and Admin calls that must run where the state is. Every client comes from the one Connections.
 */
export function createNodeCalls(options: {
  connections: Connections;
  self: string;
  /** Every instance of the cluster by name, host:port of its gRPC server. */
  addresses: ReadonlyMap<string, string>;
  clock: Clock;
}) {
  const { connections, self, addresses, clock } = options;
  const client = (service: 'Node' | 'Peer' | 'Admin', instance: string): Client => {
    const address = addresses.get(instance);
    if (!address)
      throw new TriadError(
        'INPUT_INVALID',
        `unknown instance "${instance}" (instances: ${[...addresses.keys()].join(', ')})`,
      );
    return connections.client(service, address);
  };
  const findLeader = async (): Promise<string> => {
    for (const name of addresses.keys()) {
      if (name === self) continue;
      try {
        const state = await callUnary<object, NodeState>(
          client('Node', name),
          'GetState',
          {},
          { deadlineMs: stateDeadlineMs },
        );
        if (state.leader) return name;
      } catch {
        // unreachable: not the leader we can use
      }
    }
    throw new TriadError(
      'PEER_UNAVAILABLE',
      'no node is leader right now (is PostgreSQL reachable?); retry in a few seconds',
    );
  };
  return {
    /** Resolves when the peer answered a heartbeat within the deadline. */
    async heartbeat(peer: string, deadlineMs: number): Promise<void> {
      await callUnary<HeartbeatRequest, HeartbeatReply>(
        client('Node', peer),
        'Heartbeat',
        { from: self, sent_at_ms: clock.now() },
        { deadlineMs },
      );
    },
    async pushApply(instance: string, version: number, deadlineMs: number): Promise<number> {
      const reply = await callUnary<ApplyRequest, ApplyReply>(
        client('Peer', instance),
        'Apply',
        { version },
        { deadlineMs },
      );
      return reply.applied_version;
    },
    async instanceView(instance: string): Promise<InstanceView> {
      try {
        const s = await callUnary<object, NodeState>(
          client('Node', instance),
          'GetState',
          {},
          { deadlineMs: stateDeadlineMs },
        );
        return { instance, reachable: true, appliedVersion: s.applied_version, appliedLayers: s.active_layers };
      } catch {
        return { instance, reachable: false, appliedVersion: 0, appliedLayers: [] };
      }
    },
    async runR6OnLeader(): Promise<R6Run> {
      const leader = await findLeader();
      const r = await callUnary<{ actor: string }, R6Result>(
        client('Admin', leader),
        'RunR6Orchestration',
        { actor: '' },
        { deadlineMs: forwardDeadlineMs },
      );
      return fromWireR6(r);
    },
    async setFaultOn(instance: string, change: FaultChange): Promise<FaultsOf> {
      const reply = await callUnary<InjectFaultRequest, InjectFaultReply>(
        client('Admin', instance),
        'InjectFault',
        toWireFaultRequest(instance, change),
        { deadlineMs: forwardDeadlineMs },
      );
      return fromWireFaults(reply);
    },
  };
}

export type NodeCalls = ReturnType<typeof createNodeCalls>;
