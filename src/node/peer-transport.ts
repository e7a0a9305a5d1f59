import type { Client, ClientWritableStream, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import type { PeerTransport } from '../consensus/index.js';
import { createServiceClient, type PeerMessage } from '../protocol/index.js';
import type { Logger } from '../shared/index.js';

type LinkMethod = (callback: (err: Error | null) => void) => ClientWritableStream<PeerMessage>;

/**
 * This node's outbound consensus links: one long-lived client stream per peer (see peer.proto for why streams).
 * A broken stream is dropped and reopened on the next send; messages written into a dying stream are lost, which
 * the epoch tolerates by its round deadlines.
 */
export function createPeerLinks(
  addresses: ReadonlyMap<string, string>,
  log: Logger,
): PeerTransport & { close(): void } {
  const links = new Map<string, { client: Client; call?: ClientWritableStream<PeerMessage> }>();
  for (const [name, address] of addresses) links.set(name, { client: createServiceClient<Client>('Peer', address) });

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
      (link.call ?? open(peer, link)).write(message);
    },
    close() {
      for (const link of links.values()) {
        link.call?.end();
        link.client.close();
      }
    },
  };
}

/**
 * The server side of the links other nodes open to this one: every message goes to `deliver`. `close()` answers every
 * open link and each one opened later: peers never hang up by themselves, and gRPC's graceful shutdown waits for every
 * open call, so a stopping node would otherwise always sit out its force timeout.
 */
export function peerLinkHandler(members: ReadonlySet<string>, deliver: (message: PeerMessage) => void, log: Logger) {
  const open = new Set<() => void>();
  let closed = false;
  const handler = (call: ServerReadableStream<PeerMessage, object>, callback: sendUnaryData<object>): void => {
    let answered = false;
    const answer = () => {
      open.delete(answer);
      if (!answered) callback(null, {});
      answered = true;
    };
    if (closed) return answer();
    open.add(answer);
    call.on('data', (message: PeerMessage) => {
      if (!members.has(message.from)) {
        log.warn({ operation: 'peer_link', from: message.from }, 'message from an unknown instance ignored');
        return;
      }
      deliver(message);
    });
    call.on('end', answer);
    call.on('error', () => open.delete(answer));
  };
  return Object.assign(handler, {
    close(): void {
      closed = true;
      for (const answer of [...open]) answer();
    },
  });
}
