import type { sendUnaryData, ServerReadableStream, ServerUnaryCall } from '@grpc/grpc-js';
import { pino } from 'pino';
import { certificateLayout } from '../../../src/certs/index.js';
import { createConnections, createPeerLinks, mutualTlsCredentials } from '../../../src/connections/index.js';
import type { EpochPlan } from '../../../src/consensus/index.js';
import { fromWirePeerMessage, type PeerMessage } from '../../../src/protocol/index.js';
import type { WrittenConfig } from '../../fixtures/cluster.js';

/**
 * A lying cluster member as a test double: it holds `name`'s real node certificate, listens on that instance's
 * address, answers heartbeats, and speaks the real peer protocol (triad's own peer links out, a Peer.Link service
 * in) — but every round value it sends is `lie(peer, round)`, different per neighbour, and its report says the same.
 * No triad node code runs for it: the real nodes see only what a compromised node could send them.
 */
export async function startLiar(
  config: WrittenConfig,
  name: string,
  lie: (peer: string, round: number) => number[],
): Promise<{ plans: EpochPlan[]; stop(): void }> {
  const layout = certificateLayout(config.certsDir!);
  const connections = createConnections(mutualTlsCredentials({ ca: layout.caCert, ...layout.node(name) }, 3_600_000));
  const self = config.instances.find((i) => i.name === name)!;
  const others = new Map(config.instances.filter((i) => i.name !== name).map((i) => [i.name, i.grpc]));
  const links = createPeerLinks(connections, others, pino({ level: 'silent' }));
  const plans: EpochPlan[] = [];
  const sent = new Set<string>();
  const sendRound = (plan: EpochPlan, peer: string, round: number) => {
    const key = `${plan.epochId}:${peer}:${round}`;
    if (sent.has(key) || round >= plan.rounds) return;
    sent.add(key);
    links.send(peer, {
      kind: 'round',
      from: name,
      round: { epochId: plan.epochId, from: name, round, value: lie(peer, round) },
    });
  };
  const server = connections.server({
    Node: {
      Heartbeat: (_call: ServerUnaryCall<object, object>, callback: sendUnaryData<object>) =>
        callback(null, { instance: name, uptime_seconds: 1, ready: true }),
    },
    Peer: {
      Link: (call: ServerReadableStream<PeerMessage, object>, callback: sendUnaryData<object>) => {
        call.on('data', (wire: PeerMessage) => {
          const message = fromWirePeerMessage(wire);
          if (message?.kind === 'plan') {
            const plan = message.plan;
            plans.push(plan);
            for (const peer of plan.participants) if (peer !== name) sendRound(plan, peer, 0);
            const final = lie(plan.initiator, plan.rounds);
            links.send(plan.initiator, {
              kind: 'report',
              from: name,
              report: {
                epochId: plan.epochId,
                instance: name,
                snapshot: final,
                final,
                roundsRun: plan.rounds,
                dropped: [],
              },
            });
          } else if (message?.kind === 'round') {
            const plan = plans.find((p) => p.epochId === message.round.epochId);
            if (plan) sendRound(plan, message.from, message.round.round);
          }
        });
        call.on('end', () => callback(null, {}));
        call.on('error', () => undefined);
      },
    },
  });
  await connections.listen(server, '127.0.0.1', self.grpcPort, name);
  return {
    plans,
    stop() {
      links.close();
      server.forceShutdown();
      connections.close();
    },
  };
}
