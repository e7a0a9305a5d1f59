import {
  configOption,
  jsonOption,
  optionalString,
  targetOption,
  writeJson,
  type CliIO,
  type Command,
  type ParsedValues,
} from '../command.js';
import { parseDurationMs, ratioNames, type LayerId, type LayersConfig } from '../../config/index.js';
import type { PlanView, RunView } from '../../rollouts/index.js';
import { loadCliConfig, probeCluster, withConnections, type NodeProbe } from '../cluster-client.js';
import type { Connections } from '../../connections/index.js';
import { formatTable, formatUptime } from '../table.js';
import { appliedLayerNames, describeLayers, type DesiredState } from '../../layer-manager/index.js';
import { callUnary, type ConsensusView, type LayerFigure, type VersionSummary } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';

export const statusCommand: Command = {
  name: 'status',
  usage: 'triad status [--watch [--interval D]] [--json] [--target <host:port>] [--config <file>]',
  options: {
    ...jsonOption,
    ...targetOption,
    ...configOption,
    watch: {
      type: 'boolean',
      short: 'w',
      description:
        'redraw the view in place as it changes, running rollouts included (one line per change when stdout is not a terminal, one JSON object per line with --json); Ctrl-C exits 0',
    },
    interval: { type: 'string', value: 'duration', description: '--watch: how often to look (default 1s)' },
  },
  examples: ['triad status', 'triad status --json', 'triad status --watch', 'triad status --target 127.0.0.1:50052'],
  async run(values, _positionals, io) {
    if (values.watch === true) return watchStatus(values, io);
    const { probes, desired } = await withConnections(values, io, async (connections) => {
      const probed = await probeCluster(connections, values, io);
      return { probes: probed, desired: await desiredState(connections, probed) };
    });
    const consensus = latestConsensus(probes);
    if (values.json) {
      writeJson(io, {
        cascade: cascadeOf(probes),
        consensus: consensus ?? null,
        desired: desired ? { version: desired.version, label: desired.label || null, state: desired.state } : null,
        nodes: probes.map((p) => toJson(p, desired)),
      });
    } else {
      io.stdout.write(
        `${renderOverview(probes, consensus, loadCliConfig(values, io).layers)}\n${renderConsensus(consensus, io.clock.now())}${renderDesired(desired)}\n${render(probes)}\n${renderLayers(probes, desired)}`,
      );
    }
    if (probes.every((p) => !p.reachable)) {
      throw new TriadError('PEER_UNAVAILABLE', 'no node of the cluster answered: is it running? (`triad up`)');
    }
    return 0;
  },
};

interface Cascade {
  /** Product of the agreed amplification of every layer some instance reports. */
  total: number;
  burdenHoursPerWeek: number;
  layers: LayerFigure[];
  readyNodes: number;
  nodes: number;
}

/** The cluster-wide (agreed) figures from the node that knows the newest epoch. */
function cascadeOf(probes: NodeProbe[]): Cascade | undefined {
  const best = probes
    .flatMap((p) => (p.reachable && p.state.agreed_layers.length > 0 ? [p.state] : []))
    .sort((a, b) => b.consensus.last_epoch_at_ms - a.consensus.last_epoch_at_ms)[0];
  if (!best) return undefined;
  const reported = best.agreed_layers.filter((l) => l.reporting_instances > 0 && l.has_amplification);
  return {
    total: reported.reduce((product, l) => product * l.amplification, 1),
    // burden_rate is hours saved per hour over the nodes' window (the wire keeps the plan's hours), so × 168 is hours
    // per week: the plan's burden_saved_hours, which Prometheus records as triad:burden_saved_hours_per_week:sum.
    burdenHoursPerWeek: best.agreed_layers.reduce((sum, l) => sum + l.burden_rate, 0) * 168,
    layers: best.agreed_layers,
    readyNodes: probes.filter((p) => p.reachable && p.state.ready).length,
    nodes: probes.length,
  };
}

/** The operations plan's Cascade Overview: the four cards, then each layer against its expected range. */
function renderOverview(probes: NodeProbe[], consensus: ConsensusView | undefined, layers: LayersConfig): string {
  const c = cascadeOf(probes);
  const health = `${probes.filter((p) => p.reachable && p.state.ready).length}/${probes.length} nodes ready`;
  if (!c) return `cascade: no agreed figures yet · ${health}\n`;
  const cards = [
    `total cascade ${c.total.toFixed(2)}×`,
    `burden saved ${Math.round(c.burdenHoursPerWeek).toLocaleString('en-US')} h/week`,
    `consensus error ${consensus ? consensus.error.toFixed(4) : 'n/a'}`,
    health,
  ].join('  ·  ');
  const rows = c.layers.map((l) => {
    const band = layers.layers.find((x) => x.id === l.layer)?.amplification;
    const value = l.reporting_instances > 0 && l.has_amplification ? l.amplification : undefined;
    const verdict =
      value === undefined
        ? l.reporting_instances > 0
          ? 'no data'
          : 'off'
        : !band
          ? 'baseline'
          : value < band.alertBelow
            ? 'BELOW ALERT'
            : value < band.acceptable[0] || value > band.acceptable[1]
              ? 'outside range'
              : 'ok';
    return [
      `${l.layer} ${ratioNames[l.layer as LayerId] ?? ''}`.trim(),
      value === undefined ? '-' : `${value.toFixed(2)}×`,
      band ? `${band.expected.toFixed(2)}×` : '1.00×',
      band ? `${band.acceptable[0].toFixed(2)}–${band.acceptable[1].toFixed(2)}` : '-',
      verdict,
      `${l.reporting_instances}`,
      l.has_error_rate && l.reporting_instances > 0 ? `${(l.error_rate * 100).toFixed(2)}%` : '-',
      `${(l.burden_rate * 168).toFixed(1)} h/wk`,
    ];
  });
  return `${cards}\n\n${formatTable(['LAYER', 'AMPLIFICATION', 'EXPECTED', 'ACCEPTABLE', 'STATUS', 'INSTANCES', 'ERRORS', 'BURDEN'], rows)}`;
}

interface Desired {
  version: number;
  label: string;
  state: DesiredState;
}

/** The newest desired-state version, from the first node that answers (all read the same database). */
async function desiredState(connections: Connections, probes: NodeProbe[]): Promise<Desired | undefined> {
  for (const p of probes) {
    if (!p.reachable) continue;
    try {
      const { latest } = await callUnary<object, { latest: VersionSummary }>(
        connections.client('Admin', p.target.address),
        'GetDesiredState',
        {},
        { deadlineMs: 3_000 },
      );
      return { version: latest.version, label: latest.label, state: JSON.parse(latest.state_json) as DesiredState };
    } catch {
      // Its storage may be down; another node may still read it.
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

interface RolloutLine {
  plan: string;
  run: number;
  status: string;
  step: string;
  current: string | null;
  message: string | null;
}

/** Rollouts under way (and each plan's last run), from the first node that answers; none when no node does. */
async function rolloutsOf(connections: Connections, probes: NodeProbe[]): Promise<RolloutLine[] | undefined> {
  for (const p of probes) {
    if (!p.reachable) continue;
    try {
      const reply = await callUnary<object, { view_json: string }>(
        connections.client('Rollouts', p.target.address),
        'List',
        {},
        { deadlineMs: 3_000 },
      );
      const list = JSON.parse(reply.view_json) as { plan: PlanView; run?: RunView }[];
      return list.flatMap(({ run }) =>
        run && !['completed', 'aborted'].includes(run.status)
          ? [
              {
                plan: run.plan,
                run: run.id,
                status: run.status,
                step: `${Math.min(run.stepIndex + 1, run.stepCount)}/${run.stepCount}`,
                current: run.currentStep ?? null,
                message: run.message ?? null,
              },
            ]
          : [],
      );
    } catch {
      // Another node may answer.
    }
  }
  return undefined;
}

function renderRollouts(lines: RolloutLine[] | undefined): string {
  if (!lines) return 'rollouts: unknown (no node answered)\n';
  if (lines.length === 0) return 'rollouts: none under way\n';
  return formatTable(
    ['ROLLOUT', 'STATUS', 'STEP', 'CURRENT', 'MESSAGE'],
    lines.map((l) => [
      `${l.plan} #${l.run}`,
      l.status.replace('_', ' '),
      l.step,
      l.current ?? '-',
      (l.message ?? '').split('\n')[0]!.slice(0, 80),
    ]),
  );
}

/** One line of the whole view, for a log or a CI job's output (stdout not a terminal). */
function summaryLine(probes: NodeProbe[], desired: Desired | undefined, rollouts: RolloutLine[] | undefined): string {
  const c = cascadeOf(probes);
  const consensus = latestConsensus(probes);
  const nodes = probes.map((p) => {
    const name = p.target.name ?? p.target.address;
    if (!p.reachable) return `${name} unreachable`;
    const behind = desired !== undefined && p.state.applied_version < desired.version;
    return `${name}${p.state.leader ? '*' : ''} ${p.state.active_layers.join('+') || '-'} v${p.state.applied_version}${behind ? ' behind' : ''}`;
  });
  const runs = (rollouts ?? []).map(
    (r) => `${r.plan} #${r.run} ${r.status} step ${r.step}${r.current ? ` ${r.current}` : ''}`,
  );
  return [
    c ? `cascade ${c.total.toFixed(2)}x` : 'cascade n/a',
    consensus ? `consensus ${consensus.converged ? 'converged' : 'NOT converged'}` : 'consensus none',
    desired ? `desired v${desired.version}` : 'desired ?',
    nodes.join(', '),
    rollouts === undefined ? 'rollouts ?' : runs.length > 0 ? `rollouts: ${runs.join('; ')}` : 'no rollouts',
  ].join(' | ');
}

/**
 * `triad status --watch` (DESIGN §5): the cluster view, redrawn in place on a terminal as it changes; one plain line
 * per change otherwise (or one JSON object per line with --json), so a log shows what changed when. Ends with 0 on
 * Ctrl-C (or SIGTERM): watching is not a check that can fail.
 */
async function watchStatus(values: ParsedValues, io: CliIO): Promise<number> {
  const intervalText = optionalString(values, 'interval') ?? '1s';
  const intervalMs = parseDurationMs(intervalText);
  if (intervalMs === undefined || intervalMs < 100)
    throw new TriadError('USAGE', `--interval expects a duration of at least 100ms, received "${intervalText}"`);
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const layersConfig = loadCliConfig(values, io).layers;
  try {
    await withConnections(values, io, async (connections) => {
      let lines = 0;
      let last = '';
      while (!stop.signal.aborted) {
        const probes = await probeCluster(connections, values, io);
        const desired = await desiredState(connections, probes);
        const rollouts = await rolloutsOf(connections, probes);
        const consensus = latestConsensus(probes);
        const now = io.clock.now();
        const stamp = new Date(now).toISOString().replace('T', ' ').slice(0, 19);
        if (values.json) {
          // Only on a change; volatile fields (uptime, epoch ages) would make every poll one.
          const key = summaryLine(probes, desired, rollouts);
          if (key !== last)
            io.stdout.write(
              `${JSON.stringify({
                at: new Date(now).toISOString(),
                cascade: cascadeOf(probes) ?? null,
                consensus: consensus ?? null,
                desired: desired ? { version: desired.version, label: desired.label || null } : null,
                nodes: probes.map((p) => toJson(p, desired)),
                rollouts: rollouts ?? null,
              })}\n`,
            );
          last = key;
        } else if (io.interactive) {
          const text = `triad status --watch · every ${intervalText} · ${stamp} (Ctrl-C to stop)\n${renderOverview(probes, consensus, layersConfig)}\n${renderConsensus(consensus, now)}${renderDesired(desired)}\n${renderLayers(probes, desired)}\n${renderRollouts(rollouts)}`;
          // Up to the first line of the last drawing, clear to the end of the screen, draw again.
          io.stdout.write(`${lines > 0 ? `\x1b[${lines}F\x1b[J` : ''}${text}`);
          lines = text.split('\n').length - 1;
        } else {
          const line = summaryLine(probes, desired, rollouts);
          if (line !== last) io.stdout.write(`${stamp} ${line}\n`);
          last = line;
        }
        await io.clock.sleep(intervalMs, stop.signal).catch(() => undefined);
      }
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
