import { configOption, jsonOption, targetOption, writeJson, type Command } from '../command.js';
import { probeCluster, type NodeProbe } from '../cluster-client.js';
import { formatTable, formatUptime } from '../table.js';
import type { Client } from '@grpc/grpc-js';
import { appliedLayerNames, describeLayers, type DesiredState } from '../../layer-manager/index.js';
import { callUnary, createServiceClient, type ConsensusView, type VersionSummary } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';

export const statusCommand: Command = {
  name: 'status',
  usage: 'triad status [--json] [--target <host:port>] [--config <file>]',
  options: { ...jsonOption, ...targetOption, ...configOption },
  examples: ['triad status', 'triad status --json', 'triad status --target 127.0.0.1:50052'],
  async run(values, _positionals, io) {
    const probes = await probeCluster(values, io);
    const consensus = latestConsensus(probes);
    const desired = await desiredState(probes);
    if (values.json) {
      writeJson(io, {
        consensus: consensus ?? null,
        desired: desired ? { version: desired.version, label: desired.label || null, state: desired.state } : null,
        nodes: probes.map((p) => toJson(p, desired)),
      });
    } else {
      io.stdout.write(
        `${renderConsensus(consensus, io.clock.now())}${renderDesired(desired)}\n${render(probes)}\n${renderLayers(probes, desired)}`,
      );
    }
    if (probes.every((p) => !p.reachable)) {
      throw new TriadError('PEER_UNAVAILABLE', 'no node of the cluster answered: is it running? (`triad up`)');
    }
    return 0;
  },
};

interface Desired {
  version: number;
  label: string;
  state: DesiredState;
}

/** The newest desired-state version, from the first node that answers (all read the same database). */
async function desiredState(probes: NodeProbe[]): Promise<Desired | undefined> {
  for (const p of probes) {
    if (!p.reachable) continue;
    const client = createServiceClient<Client>('Admin', p.target.address);
    try {
      const { latest } = await callUnary<object, { latest: VersionSummary }>(
        client,
        'GetDesiredState',
        {},
        { deadlineMs: 3_000 },
      );
      return { version: latest.version, label: latest.label, state: JSON.parse(latest.state_json) as DesiredState };
    } catch {
      // Its storage may be down; another node may still read it.
    } finally {
      client.close();
    }
  }
  return undefined;
}

function renderDesired(d: Desired | undefined): string {
  if (!d) return 'desired state: unknown (no node could read it)\n';
  return `desired state: v${d.version}${d.label ? ` (${d.label})` : ''}${d.state.emergency_disabled ? '  EMERGENCY-DISABLED' : ''}${d.state.disabled_frameworks.length ? `  disabled frameworks: ${d.state.disabled_frameworks.join(', ')}` : ''}\n`;
}

/** Desired against applied, per instance and layer: where a rollout stands, and which node lags. */
function renderLayers(probes: NodeProbe[], d: Desired | undefined): string {
  const rows = probes.map((p) => {
    const name = p.target.name ?? '?';
    const desired = d ? describeLayers(d.state, name) : '?';
    if (!p.reachable) return [name, desired, '-', '-', 'unreachable'];
    const applied = p.state.active_layers.join(' ') || '-';
    const behind = d !== undefined && p.state.applied_version < d.version;
    return [
      name,
      desired,
      applied,
      `v${p.state.applied_version}`,
      behind ? `behind (desired v${d.version})` : 'in sync',
    ];
  });
  return formatTable(['INSTANCE', 'DESIRED LAYERS', 'APPLIED LAYERS', 'APPLIED', 'SYNC'], rows);
}

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

function toJson(p: NodeProbe, desired: Desired | undefined) {
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
    applied_version: s.applied_version,
    desired_layers: desired ? appliedLayerNames(desired.state, s.instance) : null,
    in_sync: desired ? s.applied_version >= desired.version : null,
    leader: s.leader,
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
      `${s.ready ? 'ready' : 'not ready'}${s.leader ? ' (leader)' : ''}`,
      formatUptime(s.uptime_seconds),
      [...seen, ...missing].join(',') || '-',
      p.target.address,
      s.http_address,
      s.not_ready_reasons.join('; '),
    ];
  });
  return formatTable(['INSTANCE', 'HEALTH', 'UPTIME', 'PEERS SEEN', 'GRPC', 'HTTP', 'REASONS'], rows);
}
