import type { Metadata, sendUnaryData, ServerReadableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ConsensusMessage } from '../../consensus/index.js';
import {
  callerKey,
  fromWirePeerMessage,
  unaryHandler,
  type ApplyReply,
  type ApplyRequest,
  type PeerMessage,
} from '../../protocol/index.js';
import { TriadError, type Logger } from '../../shared/index.js';

export interface PeerServiceDeps {
  self: string;
  members: ReadonlySet<string>;
  log: Logger;
  /** A message dropped at the edge, and why (metrics). */
  onRejected: (reason: 'from_mismatch' | 'unknown_member') => void;
  deliver: (message: ConsensusMessage) => void;
  applyAtLeast: (version: number) => Promise<number>;
}

/**
 * triad.v1.Peer: the consensus links other nodes open to this one, and the desired-state Apply push. `closeLinks()`
 * answers every open link and each one opened later: peers never hang up by themselves, and gRPC's graceful shutdown
 * waits for every open call, so a stopping node would otherwise always sit out its force timeout.
 */
export function peerService(deps: PeerServiceDeps): { service: UntypedServiceImplementation; closeLinks(): void } {
  const { log } = deps;
  const open = new Set<() => void>();
  let closed = false;
  const service: UntypedServiceImplementation = {
    Link(call: ServerReadableStream<PeerMessage, object>, callback: sendUnaryData<object>): void {
      let answered = false;
      const answer = () => {
        open.delete(answer);
        if (!answered) callback(null, {});
        answered = true;
      };
      if (closed) return answer();
      open.add(answer);
      // The sender is who its certificate says (the authorisation edge verified it), whatever `from` claims: a node
      // must not speak for another, or it could forge another's consensus values and outcomes.
      const caller = callerIn(call.metadata);
      call.on('data', (wire: PeerMessage) => {
        if (!deps.members.has(wire.from)) {
          deps.onRejected('unknown_member');
          log.warn({ operation: 'peer_link', from: wire.from }, 'message from an unknown instance ignored');
          return;
        }
        if (caller?.role === 'node' && caller.name !== wire.from) {
          deps.onRejected('from_mismatch');
          log.warn(
            { operation: 'peer_link', from: wire.from, certificate: caller.subject },
            'peer message dropped: its from is not the instance its certificate names',
          );
          return;
        }
        // A data handler must never throw: nothing awaits it, and an exception here would end the process.
        try {
          const message = fromWirePeerMessage(wire);
          if (message) deps.deliver(message);
        } catch (err) {
          log.error({ operation: 'peer_link', from: wire.from, err }, 'peer message failed');
        }
      });
      call.on('end', answer);
      call.on('error', () => open.delete(answer));
    },
    Apply: unaryHandler<ApplyRequest, ApplyReply>(log, 'Apply', async (request) => {
      if (!Number.isSafeInteger(request.version) || request.version < 0)
        throw new TriadError('INPUT_INVALID', `version must be a whole number ≥ 0, received ${request.version}`);
      return { instance: deps.self, applied_version: await deps.applyAtLeast(request.version) };
    }),
  };
  return {
    service,
    closeLinks(): void {
      closed = true;
      for (const answer of [...open]) answer();
    },
  };
}

/** The caller the authorisation edge verified and put in the metadata (undefined on a plaintext loopback server). */
function callerIn(metadata: Metadata): { role: string; name: string; subject: string } | undefined {
  const raw = metadata.get(callerKey)[0];
  return typeof raw === 'string' ? (JSON.parse(raw) as { role: string; name: string; subject: string }) : undefined;
}
