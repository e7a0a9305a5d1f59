import type { Client, ClientWritableStream } from '@grpc/grpc-js';
import type { PeerTransport } from '../consensus/index.js';
import { toWirePeerMessage, type PeerMessage } from '../protocol/index.js';
import type { Logger } from '../shared/index.js';
import type { Connections } from './connections.js';

type LinkMethod = (callback: (err: Error | null) => void) => ClientWritableStream<PeerMessage>;

/**
 * This node's outbound consensus links: one long-lived client stream per peer (see peer.proto for why streams).
 * A broken stream is dropped and reopened on the next send; messages written into a dying stream are lost, which
 * the epoch tolerates by its round deadlines.
 */
export function createPeerLinks(
  connections: Connections,
  addresses: ReadonlyMap<string, string>,
  log: Logger,
): PeerTransport & { close(): void } {
  const links = new Map<string, { client: Client; call?: ClientWritableStream<PeerMessage> }>();
  for (const [name, address] of addresses) links.set(name, { client: connections.client('Peer', address) });

  const open = (peer: string, link: { client: Client; call?: ClientWritableStream<PeerMessage> }) => {
    const method = (link.client as unknown as { Link: LinkMethod }).Link.bind(link.client);
    const call = method((err) => {
      if (link.call === call) link.call = undefined;
      if (err) log.debug({ operation: 'peer_link', peer, err }, 'peer link closed');
    });
    call.on('error', () => {
      if (link.call === call) link.call = undefined;
    });
    link.call = call;
    return call;
  };

  return {
    send(peer, message) {
      const link = links.get(peer);
      if (!link) return;
      (link.call ?? open(peer, link)).write(toWirePeerMessage(message));
    },
    close() {
      for (const link of links.values()) link.call?.end();
    },
  };
}
