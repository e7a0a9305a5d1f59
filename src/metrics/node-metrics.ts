import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';

/**
 * The node's own health metrics. The node's identity is the scrape target's `instance` label (set in
 * prometheus.yml), never a label here: Prometheus would rename a clashing one to `exported_instance` (DESIGN §6).
 */
export interface NodeMetrics {
  registry: Registry;
  nodeInfo: Gauge<'version' | 'cluster'>;
  peerReachable: Gauge<'peer'>;
  peerHeartbeatAge: Gauge<'peer'>;
  ready: Gauge;
  /** Peer messages dropped at the edge, by why: the closed set `peerRejectionReasons`. */
  peerMessagesRejected: Counter<'reason'>;
  /** gRPC calls the authorisation or bounds edge refused before any handler ran. */
  callsRefused: Counter<'reason'>;
  /** TCP connections closed at accept: too many from one address, or in all. */
  connectionsRefused: Counter<'reason'>;
}

/**
 * Why a peer message is dropped: its `from` is not its certificate's instance, or not a member of the cluster; or a
 * consensus check refused it (docs/consensus.md): a plan, round, report or outcome out of bounds, for an epoch this
 * node has no part in, dated too far from this node's clock, a full mailbox, too many epochs at once.
 */
export const peerRejectionReasons = [
  'from_mismatch',
  'unknown_member',
  'invalid_plan',
  'invalid_round',
  'invalid_report',
  'invalid_outcome',
  'unknown_epoch',
  'stale',
  'future',
  'mailbox_full',
  'too_many_epochs',
] as const;
/**
 * Why a call is refused: no valid certificate (UNAUTHENTICATED), a role the method does not allow, a request over
 * its size bound (RESOURCE_EXHAUSTED), or one with a field outside its bounds (INPUT_INVALID).
 */
export const callRefusalReasons = [
  'unauthenticated',
  'permission_denied',
  'resource_exhausted',
  'input_invalid',
] as const;
export const connectionRefusalReasons = ['per_address', 'total'] as const;

const misnamedDefaults = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createNodeMetrics(registry: Registry): NodeMetrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  // prom-client exports these gauges with a `_total` suffix, which promtool rejects (only counters end in _total);
  // the same figures remain as nodejs_active_handles / _requests / _resources.
  for (const name of misnamedDefaults) registry.removeSingleMetric(name);
  return {
    registry,
    nodeInfo: new Gauge({
      name: 'triad_node_info',
      help: 'Always 1; labels carry the triad version and cluster name of this node.',
      labelNames: ['version', 'cluster'],
      registers,
    }),
    peerReachable: new Gauge({
      name: 'peer_reachable',
      help: '1 while the last heartbeat to the peer succeeded within the heartbeat timeout, else 0.',
      labelNames: ['peer'],
      registers,
    }),
    peerHeartbeatAge: new Gauge({
      name: 'peer_heartbeat_age_seconds',
      help: 'Seconds since the last successful heartbeat to the peer (since node start if never).',
      labelNames: ['peer'],
      registers,
    }),
    ready: new Gauge({
      name: 'triad_node_ready',
      help: '1 while this node reports ready on /ready, else 0.',
      registers,
    }),
    peerMessagesRejected: withZeros(
      new Counter({
        name: 'triad_peer_messages_rejected_total',
        help: 'Peer messages dropped: from another instance than the certificate names, a non-member, or failing a consensus check.',
        labelNames: ['reason'],
        registers,
      }),
      peerRejectionReasons,
    ),
    callsRefused: withZeros(
      new Counter({
        name: 'triad_calls_refused_total',
        help: 'gRPC calls refused before any handler ran: no valid certificate, a role not allowed, a bound broken.',
        labelNames: ['reason'],
        registers,
      }),
      callRefusalReasons,
    ),
    connectionsRefused: withZeros(
      new Counter({
        name: 'triad_connections_refused_total',
        help: 'gRPC connections closed at accept: too many from one address, or too many in all.',
        labelNames: ['reason'],
        registers,
      }),
      connectionRefusalReasons,
    ),
  };
}

/** Known series start at 0, so rate() and alerts have a series before the first event. */
function withZeros(counter: Counter<'reason'>, reasons: readonly string[]): Counter<'reason'> {
  for (const reason of reasons) counter.inc({ reason }, 0);
  return counter;
}
