import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { ClusterConfig } from '../../../src/config/index.js';
import {
  createConsensus,
  measurementKeys,
  type Consensus,
  type ConsensusMessage,
  type ConsensusRejection,
  type EpochPlan,
} from '../../../src/consensus/index.js';
import { createConsensusMetrics } from '../../../src/metrics/index.js';
import { InMemoryNetwork } from '../../fixtures/in-memory-network.js';
import { ManualClock } from '../../fixtures/manual-clock.js';

export const silentLog = pino({ level: 'silent' });
export const width = measurementKeys.length;

/** Node i holds (i+1)·(k+1) in component k. */
export const measurementOf = (i: number) => Array.from({ length: width }, (_, k) => (i + 1) * (k + 1));

export interface HarnessNode {
  name: string;
  consensus: Consensus;
  registry: Registry;
  rejected: ConsensusRejection[];
}

/**
 * Nodes as createConsensus wires them in a real node (checks, bounds, W-MSR, metrics on a real prom-client registry),
 * talking over an in-memory network on a manual clock. Names in `skip` get no consensus: a test attaches its own
 * handler for them (a liar).
 */
export function consensusCluster(
  names: string[],
  consensus: Partial<ClusterConfig['consensus']> = {},
  skip: readonly string[] = [],
) {
  const clock = new ManualClock();
  const net = new InMemoryNetwork();
  const cluster: Pick<ClusterConfig, 'topology' | 'edges' | 'instances' | 'consensus'> = {
    topology: 'complete',
    edges: [],
    instances: names.map((name, i) => ({ name, host: '127.0.0.1', grpcPort: 1000 + i, httpPort: 2000 + i })),
    consensus: { intervalMs: 10_000, epsilon: 1e-9, roundTimeoutMs: 500, demoIntervalMs: 1_000, ...consensus },
  };
  const nodes = new Map<string, HarnessNode>();
  names.forEach((name, i) => {
    if (skip.includes(name)) return;
    const registry = new Registry();
    const rejected: ConsensusRejection[] = [];
    const node = createConsensus({
      self: name,
      cluster,
      epochIntervalMs: 10_000,
      transport: net.for(name),
      measure: () => measurementOf(i),
      isReachable: () => true,
      isLeader: () => false,
      clock,
      log: silentLog,
      metrics: createConsensusMetrics(registry, `K${names.length}`),
      testHooks: false,
      onRejected: (reason) => rejected.push(reason),
    });
    net.attach(name, (m) => node.deliver(m));
    nodes.set(name, { name, consensus: node, registry, rejected });
  });
  const node = (name: string) => {
    const found = nodes.get(name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  };
  /** Advances the manual clock by zero until `promise` settles (many rounds need many turns). */
  async function settle<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    void promise.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 500 && !done; i++) await clock.advance(0);
    return promise;
  }
  return { clock, net, cluster, nodes, node, settle };
}

/** A message as the peer edge would hand it over after checking `from` against the certificate. */
export function deliver(node: HarnessNode, message: ConsensusMessage): void {
  node.consensus.deliver(message);
}

/** The value of one series in a registry, or undefined. */
export async function seriesValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return value?.value;
}

/** Every label value a registry exports for `label`, across all metrics. */
export async function labelValues(registry: Registry, label: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const x = v.labels[label];
      if (x !== undefined) out.add(String(x));
    }
  }
  return out;
}

/**
 * A lying member on the in-memory network: answers every plan with round-0 values and each neighbour's round r with
 * its own round r (as a correct node would have sent it), telling each neighbour something different (`lie(peer, round)`), and reports `lie` as its final
 * value. What a node holding a valid certificate can do through the real protocol.
 */
export function attachLiar(
  net: InMemoryNetwork,
  name: string,
  lie: (peer: string, round: number) => number[],
): { plans: EpochPlan[] } {
  const transport = net.for(name);
  const plans: EpochPlan[] = [];
  net.attach(name, (message) => {
    if (message.kind === 'plan') {
      const plan = message.plan;
      plans.push(plan);
      const neighbours = plan.participants.filter((p) => p !== name);
      for (const peer of neighbours) {
        transport.send(peer, {
          kind: 'round',
          from: name,
          round: { epochId: plan.epochId, from: name, round: 0, value: lie(peer, 0) },
        });
      }
      const final = lie(plan.initiator, plan.rounds);
      transport.send(plan.initiator, {
        kind: 'report',
        from: name,
        report: { epochId: plan.epochId, instance: name, snapshot: final, final, roundsRun: plan.rounds, dropped: [] },
      });
    } else if (message.kind === 'round') {
      const plan = plans.find((p) => p.epochId === message.round.epochId);
      const round = message.round.round;
      if (!plan || round === 0 || round >= plan.rounds) return;
      transport.send(message.from, {
        kind: 'round',
        from: name,
        round: { epochId: plan.epochId, from: name, round, value: lie(message.from, round) },
      });
    }
  });
  return { plans };
}
