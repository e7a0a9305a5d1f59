import { configOption, jsonOption, targetOption, writeJson, type Command } from '../command.js';
import { probeCluster, type NodeProbe } from '../cluster-client.js';
import { formatTable, formatUptime } from '../table.js';
import type { ConsensusView } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show every node of the cluster: health, uptime and the peers each one can see.',
  usage: 'triad status [--json] [--target <host:port>] [--config <file>]',
  options: { ...jsonOption, ...targetOption, ...configOption },
  examples: ['triad status', 'triad status --json', 'triad status --target 127.0.0.1:50052'],
  async run(values, _positionals, io) {
    const probes = await probeCluster(values, io);
    const consensus = latestConsensus(probes);
    if (values.json) writeJson(io, { consensus: consensus ?? null, nodes: probes.map(toJson) });
    else io.stdout.write(`${renderConsensus(consensus, io.clock.now())}\n${render(probes)}`);
    if (probes.every((p) => !p.reachable)) {
      throw new TriadError('PEER_UNAVAILABLE', 'no node of the cluster answered: is it running? (`triad up`)');
    }
    return 0;
  },
};

/** The newest epoch any reachable node knows of: every node records the outcomes published to it. */
function latestConsensus(probes: NodeProbe[]): ConsensusView | undefined {
  return probes
    .flatMap((p) => (p.reachable && p.state.consensus.has_epoch ? [p.state.consensus] : []))
    .sort((a, b) => b.last_epoch_at_ms - a.last_epoch_at_ms)[0];
}

function renderConsensus(c: ConsensusView | undefined, now: number): string {
  if (!c) return 'consensus: no epoch yet\n';
  const age = formatUptime((now - c.last_epoch_at_ms) / 1000);
  const state = c.converged
    ? 'converged'
    : `NOT converged${c.unreachable.length ? ` (unreachable: ${c.unreachable.join(', ')})` : ''}`;
  return `consensus: ${c.topology}  λ₂ ${c.lambda2.toPrecision(4)}  error ${c.error.toExponential(2)}  ${state}  last epoch ${age} ago (${(c.time_seconds * 1000).toFixed(2)} ms, ${c.rounds} round${c.rounds === 1 ? '' : 's'})\n`;
}

function toJson(p: NodeProbe) {
  if (!p.reachable) {
    return {
      instance: p.target.name ?? null,
      address: p.target.address,
      reachable: false,
      error: p.error.detail,
      code: p.error.code,
    };
  }
  const s = p.state;
  return {
    instance: s.instance,
    address: p.target.address,
    reachable: true,
    ready: s.ready,
    reasons: s.not_ready_reasons,
    version: s.version,
    uptime_seconds: s.uptime_seconds,
    http_address: s.http_address,
    topology: s.topology,
    peers: s.peers.map((peer) => ({
      instance: peer.instance,
      reachable: peer.reachable,
      last_seen_ms_ago: peer.last_seen_ms_ago,
    })),
    active_layers: s.active_layers,
  };
}

function render(probes: NodeProbe[]): string {
  const rows = probes.map((p) => {
    if (!p.reachable) return [p.target.name ?? '?', 'unreachable', '-', '-', p.target.address, '-', p.error.detail];
    const s = p.state;
    const seen = s.peers.filter((peer) => peer.reachable).map((peer) => peer.instance);
    const missing = s.peers.filter((peer) => !peer.reachable).map((peer) => `!${peer.instance}`);
    return [
      s.instance,
      s.ready ? 'ready' : 'not ready',
      formatUptime(s.uptime_seconds),
      [...seen, ...missing].join(',') || '-',
      p.target.address,
      s.http_address,
      s.not_ready_reasons.join('; '),
    ];
  });
  return formatTable(['INSTANCE', 'HEALTH', 'UPTIME', 'PEERS SEEN', 'GRPC', 'HTTP', 'REASONS'], rows);
}
