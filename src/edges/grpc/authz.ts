import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import {
  Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { verifyIdentity, type Identity, type Role } from '../../certs/index.js';
import { callerKey } from '../../protocol/index.js';
import { errorKinds, TriadError, type Clock, type Logger } from '../../shared/index.js';

/**
 * Who may call what, one row per method (DESIGN §8). A method missing here is refused to everyone: a new RPC is
 * closed until someone decides who may use it. Nodes may call the two Admin methods they forward (R6 to the leader,
 * a fault to the instance it is for) on behalf of the operator who asked.
 */
export const methodRoles: Readonly<Record<string, readonly Role[]>> = {
  '/triad.v1.Node/GetState': ['node', 'operator', 'viewer'],
  '/triad.v1.Node/Heartbeat': ['node'],
  '/triad.v1.Peer/Link': ['node'],
  '/triad.v1.Peer/Apply': ['node'],
  '/triad.v1.Admin/Mutate': ['operator'],
  '/triad.v1.Admin/CheckHealth': ['operator', 'viewer'],
  '/triad.v1.Admin/History': ['operator', 'viewer'],
  '/triad.v1.Admin/GetDesiredState': ['operator', 'viewer'],
  '/triad.v1.Admin/VerifyAudit': ['operator', 'viewer'],
  '/triad.v1.Admin/JudgeCanary': ['operator', 'viewer'],
  '/triad.v1.Admin/ForceConsensusSync': ['operator'],
  '/triad.v1.Admin/SetTestMeasurement': ['operator'],
  '/triad.v1.Admin/RunR6Orchestration': ['operator', 'node'],
  '/triad.v1.Admin/InjectFault': ['operator', 'node'],
  // A viewer certificate mints viewer sessions only; the console login itself checks the requested role (src/console).
  '/triad.v1.Admin/ConsoleLogin': ['operator', 'viewer'],
  '/triad.v1.Ingest/RecordOperations': ['ingest'],
  '/triad.v1.Rollouts/Create': ['operator'],
  '/triad.v1.Rollouts/Start': ['operator'],
  '/triad.v1.Rollouts/Promote': ['operator'],
  '/triad.v1.Rollouts/Approve': ['operator'],
  '/triad.v1.Rollouts/Pause': ['operator'],
  '/triad.v1.Rollouts/Abort': ['operator'],
  '/triad.v1.Rollouts/Retry': ['operator'],
  '/triad.v1.Rollouts/Status': ['operator', 'viewer'],
  '/triad.v1.Rollouts/List': ['operator', 'viewer'],
  '/triad.v1.Rollouts/History': ['operator', 'viewer'],
  '/grpc.health.v1.Health/Check': ['node', 'operator', 'viewer', 'ingest'],
  '/grpc.health.v1.Health/Watch': ['node', 'operator', 'viewer', 'ingest'],
  // In the stock health.proto; grpc-health-check does not implement it yet, so it answers UNIMPLEMENTED.
  '/grpc.health.v1.Health/List': ['node', 'operator', 'viewer', 'ingest'],
};

/** Who calls over plaintext: anyone on this machine, which is why plaintext is allowed on loopback only. */
const plaintextCaller = { role: 'local', name: 'local', subject: 'plaintext loopback (no certificate)' };

export interface Authorizer {
  /** Checks the caller's certificate and the method table; the verified caller goes on to the handler. */
  interceptor: ServerInterceptor;
}

/**
 * Authentication and authorisation at the edge of every gRPC server: the client certificate must be signed by the
 * cluster's CA, be valid now and name a role (its SAN URI); the role must be one the method's row allows. A call
 * without a valid certificate gets UNAUTHENTICATED, one with the wrong role PERMISSION_DENIED naming the roles it
 * needs; either way the handler never runs. The verified caller is put into the call's metadata under a reserved key
 * (overwriting anything a client sent there), which is how handlers learn who is calling.
 */
export function createAuthorizer(options: {
  trust: { caFile: string; cluster: string } | 'plaintext-loopback';
  clock: Clock;
  log: Logger;
  onRefused?: (reason: 'unauthenticated' | 'permission_denied') => void;
}): Authorizer {
  const { log } = options;
  // Verification per certificate, not per call: the same peer calls many times a second.
  const verified = new Map<string, { identity: Identity; notAfter: number }>();
  let ca: X509Certificate | undefined;
  const identify = (call: Parameters<ServerInterceptor>[1]): Identity => {
    const trust = options.trust;
    if (trust === 'plaintext-loopback') throw new TriadError('INTERNAL', 'no certificates on a plaintext server');
    const raw = call.getAuthContext().sslPeerCertificate?.raw ?? presentedCertificate(call);
    if (!raw)
      throw new TriadError('UNAUTHENTICATED', 'no client certificate: triad needs mutual TLS (see triad certs)');
    const key = raw.toString('base64');
    const now = options.clock.now();
    const cached = verified.get(key);
    if (cached && now <= cached.notAfter) return cached.identity;
    ca ??= new X509Certificate(readCa(trust.caFile));
    const certificate = new X509Certificate(raw);
    const identity = verifyIdentity(certificate, { ca, cluster: trust.cluster, now });
    if (verified.size > 1_000) verified.clear(); // bounded: a peer set and a few operators, never thousands
    verified.set(key, { identity, notAfter: Date.parse(certificate.validTo) });
    return identity;
  };
  const refuse = (call: Parameters<ServerInterceptor>[1], method: string, err: TriadError) => {
    options.onRefused?.(err.code === 'UNAUTHENTICATED' ? 'unauthenticated' : 'permission_denied');
    log.warn({ operation: 'authorize', method, peer: call.getPeer(), code: err.code, err }, 'call refused');
    const trailer = new Metadata();
    trailer.set('triad-error-code', err.code);
    call.sendStatus({ code: errorKinds[err.code].grpc, details: err.detail, metadata: trailer });
  };
  return {
    interceptor: (methodDescriptor, call) => {
      const method = methodDescriptor.path;
      const listener = new ServerListenerBuilder()
        .withOnReceiveMetadata((metadata, next) => {
          if (options.trust === 'plaintext-loopback') {
            // No TLS (refused by config off loopback, DESIGN §8): every caller is this machine's own operator.
            metadata.set(callerKey, JSON.stringify(plaintextCaller));
            next(metadata);
            return;
          }
          let identity: Identity;
          try {
            identity = identify(call);
            const allowed = methodRoles[method] ?? [];
            if (!allowed.includes(identity.role)) {
              throw new TriadError(
                'PERMISSION_DENIED',
                `${method} needs the ${allowed.length > 0 ? allowed.join(' or ') : 'no'} role; "${identity.subject}" is ${identity.role}`,
              );
            }
          } catch (err) {
            refuse(call, method, err instanceof TriadError ? err : new TriadError('UNAUTHENTICATED', String(err)));
            return;
          }
          metadata.set(
            callerKey,
            JSON.stringify({ role: identity.role, name: identity.name, subject: identity.subject }),
          );
          next(metadata);
        })
        .build();
      return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
    },
  };
}

/**
 * The certificate a client presented, even one TLS did not accept. grpc-js' getAuthContext() shows only certificates
 * that verified, so a foreign or expired one would read as "no certificate"; the TLS socket under the call still has
 * it, and verifyIdentity then says exactly what is wrong with it. The socket sits on grpc-js' innermost call object,
 * not in its typed API: if a grpc-js upgrade moves it, this returns undefined and the reason becomes "no client
 * certificate" — still refused (the mTLS test pins the precise reasons, so the upgrade would be noticed).
 */
function presentedCertificate(call: object): Buffer | undefined {
  let inner: unknown = call;
  for (let depth = 0; depth < 8 && inner && typeof inner === 'object'; depth++) {
    const socket = (inner as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
    if (socket instanceof TLSSocket) {
      const raw = socket.getPeerCertificate().raw as Buffer | undefined;
      return raw && raw.length > 0 ? raw : undefined;
    }
    inner = (inner as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** Read once per process (the caller keeps it): rotation issues new leaves from the same CA. */
function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TriadError('UNAUTHENTICATED', `cannot read the cluster CA ${file}: ${(err as Error).message}`);
  }
}
