import type { InstanceAddress } from '../config/index.js';
import type { CheckResult } from '../health/index.js';
import type { NodeMetrics } from '../metrics/index.js';
import type { Clock, Logger } from '../shared/index.js';

/** What this node knows of one peer from its heartbeats. */
export interface PeerView {
  instance: string;
  /** host:port of its gRPC server. */
  address: string;
  reachable: boolean;
  /** Since the last successful heartbeat; absent when it never answered. */
  lastSeenMsAgo?: number;
  rttMs: number;
}

interface PeerEntry {
  address: InstanceAddress;
  lastSeenAt?: number;
  rttMs: number;
  /** Remembered so a transition is logged once, not on every failed heartbeat. */
  wasReachable: boolean;
}

export interface PeerSetOptions {
  peers: readonly InstanceAddress[];
  heartbeat: { intervalMs: number; timeoutMs: number };
  clock: Clock;
  log: Logger;
  metrics: NodeMetrics;
  startedAt: number;
  /** Resolves when `peer` answered a heartbeat within the deadline (Node.Heartbeat over the connection owner). */
  ping: (peer: string, deadlineMs: number) => Promise<void>;
}

/**
 * The peers of one node and what its heartbeats learned about them. A peer is reachable while its last successful
 * heartbeat is younger than the timeout: one lost packet does not flip readiness, a dead node does within `timeout`.
 */
export class PeerSet {
  private readonly entries = new Map<string, PeerEntry>();
  private loop?: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly listeners: ((peer: string, reachable: boolean) => void)[] = [];

  constructor(private readonly options: PeerSetOptions) {
    for (const address of options.peers) {
      this.entries.set(address.name, { address, rttMs: 0, wasReachable: false });
      options.metrics.peerReachable.set({ peer: address.name }, 0);
    }
  }

  /** Told whenever a peer becomes reachable or unreachable (consensus runs an epoch then). */
  onTransition(listener: (peer: string, reachable: boolean) => void): void {
    this.listeners.push(listener);
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  /** Round trip of the last successful heartbeat to the peer, ms (0 when never seen). */
  rttMs(name: string): number {
    return this.entries.get(name)?.rttMs ?? 0;
  }

  isReachable(name: string): boolean {
    const entry = this.entries.get(name);
    return (
      entry?.lastSeenAt !== undefined && this.options.clock.now() - entry.lastSeenAt <= this.options.heartbeat.timeoutMs
    );
  }

  view(): PeerView[] {
    const now = this.options.clock.now();
    return [...this.entries.values()].map((e) => ({
      instance: e.address.name,
      address: `${e.address.host}:${e.address.grpcPort}`,
      reachable: this.isReachable(e.address.name),
      ...(e.lastSeenAt === undefined ? {} : { lastSeenMsAgo: now - e.lastSeenAt }),
      rttMs: e.rttMs,
    }));
  }

  readinessCheck = (): CheckResult[] =>
    this.view()
      .filter((p) => !p.reachable)
      .map((p) => ({
        ok: false,
        reason:
          p.lastSeenMsAgo === undefined
            ? `peer ${p.instance} unreachable at ${p.address} (never seen)`
            : `peer ${p.instance} unreachable at ${p.address} (last seen ${(p.lastSeenMsAgo / 1000).toFixed(1)}s ago)`,
      }));

  /** Refreshes the age gauges; called right before each scrape so the value is current, not a tick old. */
  refreshMetrics(): void {
    const now = this.options.clock.now();
    for (const [name, e] of this.entries) {
      this.options.metrics.peerReachable.set({ peer: name }, this.isReachable(name) ? 1 : 0);
      this.options.metrics.peerHeartbeatAge.set(
        { peer: name },
        (now - (e.lastSeenAt ?? this.options.startedAt)) / 1000,
      );
    }
  }

  start(onTick: () => void): void {
    this.loop = this.run(onTick);
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('stopping'));
    await this.loop;
  }

  /** One heartbeat to every peer, in parallel; never throws. */
  async beat(): Promise<void> {
    const { clock, heartbeat } = this.options;
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        const sentAt = clock.now();
        try {
          await this.options.ping(e.address.name, Math.min(heartbeat.intervalMs, heartbeat.timeoutMs));
          e.lastSeenAt = clock.now();
          e.rttMs = e.lastSeenAt - sentAt;
        } catch {
          // Reachability is judged by age of the last success (isReachable), so a failure needs no bookkeeping.
        }
        this.logTransition(e);
      }),
    );
  }

  private logTransition(e: PeerEntry): void {
    const reachable = this.isReachable(e.address.name);
    if (reachable === e.wasReachable) return;
    e.wasReachable = reachable;
    const fields = { operation: 'heartbeat', peer: e.address.name, address: `${e.address.host}:${e.address.grpcPort}` };
    if (reachable) this.options.log.info(fields, 'peer reachable');
    else this.options.log.warn(fields, 'peer unreachable');
    for (const listener of this.listeners) listener(e.address.name, reachable);
  }

  private async run(onTick: () => void): Promise<void> {
    const { clock, heartbeat } = this.options;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const started = clock.now();
      await this.beat();
      onTick();
      // Until every peer has answered once (a cluster coming up), beat fast so readiness is not a full interval late.
      const warmingUp =
        [...this.entries.values()].some((e) => e.lastSeenAt === undefined) &&
        clock.now() - this.options.startedAt < 30_000;
      const interval = warmingUp ? Math.min(heartbeat.intervalMs, 100) : heartbeat.intervalMs;
      try {
        await clock.sleep(Math.max(0, interval - (clock.now() - started)), signal);
      } catch {
        return;
      }
    }
  }
}
