import { randomBytes } from 'node:crypto';
import { TriadError, type Clock, type Logger } from '../shared/index.js';
import { checkOutcome, checkReport, defaultLimits, type ConsensusLimits, type ConsensusRejection } from './checks.js';
import { Mailbox } from './mailbox.js';
import { measurementKeys } from './measurement.js';
import type { ConsensusMessage, Edge, EpochOutcome, EpochPlan, EpochReport } from './messages.js';
import { measureEpoch } from './outcome.js';
import type { EpochParticipant, PeerTransport } from './participant.js';

/** The graph an epoch runs on and how: computed from the configured topology minus unreachable members. */
export interface EpochGraph {
  edges: Edge[];
  step: number;
  rounds: number;
  lambda2: number;
}

export interface CoordinatorDeps {
  self: string;
  /** Every instance of the cluster, in config order. */
  members: readonly string[];
  /** Label for metrics: K3, K5, C5, custom… */
  topology: string;
  planGraph: (participants: readonly string[]) => EpochGraph;
  epsilon: number;
  roundTimeoutMs: number;
  isReachable: (member: string) => boolean;
  participant: EpochParticipant;
  transport: PeerTransport;
  clock: Clock;
  log: Logger;
  /** Every outcome this node learns, its own or published by another initiator. */
  onOutcome: (outcome: EpochOutcome) => void;
  limits?: ConsensusLimits;
  /** W-MSR's f: the outcome is then measured as agreement within the correct nodes' range (outcome.ts). */
  resilienceF?: number;
  /** A peer's message dropped by a check (metrics); the coordinator logs it. */
  onRejected?: (reason: ConsensusRejection) => void;
}

export interface RunEpochOptions {
  /** Restrict the epoch to these members (force-consensus-sync --instances); default all. */
  instances?: readonly string[];
}

/**
 * Starts epochs (on the leader's interval, or on demand) and measures them: snapshot mean, per-member error and
 * divergence, time until every reachable node holds its final value. The outcome is published to every participant
 * so all nodes export the same consensus metrics and gates everywhere read the same agreed vector.
 */
export class ConsensusCoordinator {
  private latest?: EpochOutcome;
  /** When `latest` started, on this node's clock: outcomes are ordered by it, never by a peer's timestamp. */
  private latestAt = -Infinity;
  /** Epochs this node started and still waits for: only their participants' reports are accepted. */
  private readonly pending = new Map<string, { plan: EpochPlan; awaiting: Set<string> }>();
  private readonly limits: ConsensusLimits;
  private readonly members: ReadonlySet<string>;
  /** The last warning per reason (this node's clock): a flood of bad messages is counted, not logged line by line. */
  private readonly warnedAt = new Map<string, number>();
  private loop?: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly reports: Mailbox<EpochReport>;
  private wake: () => void = () => undefined;
  private kicked = false;

  constructor(private readonly deps: CoordinatorDeps) {
    this.limits = deps.limits ?? defaultLimits;
    this.members = new Set(deps.members);
    this.reports = new Mailbox(deps.clock, {
      maxEpochs: this.limits.maxConcurrentEpochs,
      maxPerEpoch: deps.members.length,
      ttlMs: this.limits.mailboxTtlMs,
    });
  }

  /**
   * Every consensus message from a peer arrives here, whatever its role in the epoch. Each is checked against what
   * this node knows (docs/consensus.md); one that fails is dropped and counted. Never throws: it runs in a stream's
   * data handler, where an exception would take the process down.
   */
  deliver(message: ConsensusMessage): void {
    try {
      const refused = this.accept(message);
      if (refused) this.reject(refused.reason, message, refused.problem);
    } catch (err) {
      this.deps.log.error({ operation: 'consensus_message', kind: message.kind, from: message.from, err }, 'failed');
    }
  }

  private accept(message: ConsensusMessage): { reason: ConsensusRejection; problem: string } | undefined {
    switch (message.kind) {
      case 'plan': {
        const refused = this.deps.participant.admit(message.plan, message.from);
        if (!refused) this.participate(message.from, message.plan);
        return refused;
      }
      case 'round':
        return this.deps.participant.deliverRound({ ...message.round, from: message.from });
      case 'report': {
        const epoch = this.pending.get(message.report.epochId);
        if (!epoch?.awaiting.has(message.from)) {
          return { reason: 'unknown_epoch', problem: `no report from ${message.from} is awaited for this epoch` };
        }
        const refused = checkReport(message.report, message.from, epoch.plan);
        if (refused) return refused;
        epoch.awaiting.delete(message.from);
        return this.reports.put(message.report.epochId, message.from, message.report)
          ? undefined
          : { reason: 'mailbox_full', problem: 'report mailbox full' };
      }
      case 'outcome': {
        const { outcome } = message;
        const known = this.deps.participant.epoch(outcome.epochId);
        const refused = checkOutcome(outcome, message.from, known, {
          members: this.members,
          limits: this.limits,
          topology: this.deps.topology,
          nowMs: this.deps.clock.now(),
        });
        if (refused) return refused;
        return this.receive(outcome, known?.receivedAtMs ?? this.deps.clock.now())
          ? undefined
          : { reason: 'stale', problem: 'a later epoch is already known' };
      }
    }
  }

  private reject(reason: ConsensusRejection, message: ConsensusMessage, problem: string): void {
    this.deps.onRejected?.(reason);
    const now = this.deps.clock.now();
    const fields = { operation: 'consensus_message', kind: message.kind, from: message.from, reason, problem };
    if (now - (this.warnedAt.get(reason) ?? -Infinity) >= 60_000) {
      this.warnedAt.set(reason, now);
      this.deps.log.warn(fields, 'consensus message dropped (further drops for this reason this minute: debug)');
    } else {
      this.deps.log.debug(fields, 'consensus message dropped');
    }
  }

  private participate(initiator: string, plan: EpochPlan): void {
    const { participant, transport, log, self } = this.deps;
    participant.run(plan).then(
      (report) => transport.send(initiator, { kind: 'report', from: self, report }),
      (err: unknown) => log.warn({ operation: 'consensus_epoch', epoch_id: plan.epochId, err }, 'refused epoch plan'),
    );
  }

  last(): EpochOutcome | undefined {
    return this.latest;
  }

  /**
   * Takes an outcome that passed the checks. Outcomes of concurrent epochs can arrive out of order; the one that
   * started last on this node's clock (`at`: when this node saw its plan) wins, so a peer's clock — or a forged date
   * — cannot hold a stale outcome in place. False when a later one is already known.
   */
  private receive(outcome: EpochOutcome, at: number): boolean {
    if (this.latest?.epochId === outcome.epochId || at < this.latestAt) return false;
    this.latest = outcome;
    this.latestAt = at;
    this.deps.onOutcome(outcome);
    return true;
  }

  async runEpoch(options: RunEpochOptions = {}): Promise<EpochOutcome> {
    const { self, clock, transport, log } = this.deps;
    const members = options.instances ? [...options.instances] : [...this.deps.members];
    const unknown = members.filter((m) => !this.deps.members.includes(m));
    if (unknown.length > 0 || members.length === 0) {
      throw new TriadError(
        'INPUT_INVALID',
        `unknown instance${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (cluster: ${this.deps.members.join(', ')})`,
      );
    }
    if (this.pending.size >= this.limits.maxConcurrentEpochs) {
      throw new TriadError(
        'RESOURCE_EXHAUSTED',
        `${this.pending.size} epochs are already running (consensus.max_concurrent_epochs); try again when they end`,
      );
    }
    const participants = members.filter((m) => m === self || this.deps.isReachable(m));
    const graph = this.deps.planGraph(participants);
    const startedAt = clock.now();
    const started = clock.monotonicMs();
    // Snapshot first, so the plan can carry this node's round-0 value (see EpochParticipant.run).
    const snapshot = participants.includes(self) ? this.deps.participant.snapshot() : undefined;
    const plan: EpochPlan = {
      // Unpredictable (96 random bits), so no one can send reports or outcomes for an epoch before its plan exists;
      // prefixed with the initiator (":" cannot occur in an instance name) so a stored epoch says who ran it. At most
      // 32 + 1 + 24 characters, within the edge's epoch_id bound of 64.
      epochId: `${self}:${randomBytes(12).toString('hex')}`,
      initiator: self,
      participants,
      edges: graph.edges,
      step: graph.step,
      rounds: graph.rounds,
      roundTimeoutMs: this.deps.roundTimeoutMs,
      vectorKeys: [...measurementKeys],
      ...(snapshot && graph.rounds > 0 ? { initiatorValue: snapshot } : {}),
    };
    this.pending.set(plan.epochId, { plan, awaiting: new Set(participants.filter((p) => p !== self)) });
    for (const p of participants) if (p !== self) transport.send(p, { kind: 'plan', from: self, plan });
    // A participant needs at most one round timeout per round (a neighbour dropping), plus slack for the messages.
    const deadlineMs = this.deps.roundTimeoutMs * Math.max(1, plan.rounds) + 1_000;
    let settled: PromiseSettledResult<EpochReport>[];
    try {
      settled = await Promise.allSettled(
        participants.map((p) =>
          p === self
            ? this.deps.participant.run(plan, snapshot)
            : this.reports.get(plan.epochId, p, deadlineMs, `${p}'s report for epoch ${plan.epochId}`),
        ),
      );
    } finally {
      this.pending.delete(plan.epochId);
      this.reports.forget(plan.epochId);
    }
    const timeSeconds = (clock.monotonicMs() - started) / 1000;
    const reports = new Map<string, EpochReport>();
    settled.forEach((s, i) => {
      const member = participants[i] as string;
      if (s.status === 'fulfilled') reports.set(member, s.value);
      else
        log.warn(
          { operation: 'consensus_epoch', epoch_id: plan.epochId, member, err: s.reason as Error },
          'member failed epoch',
        );
    });
    const measured = measureEpoch(members, reports, this.deps.epsilon, this.deps.resilienceF ?? 0);
    const outcome: EpochOutcome = {
      epochId: plan.epochId,
      initiator: self,
      topology: this.deps.topology,
      startedAtMs: startedAt,
      timeSeconds,
      error: measured.error,
      converged: measured.converged,
      rounds: plan.rounds,
      lambda2: graph.lambda2,
      step: plan.step,
      epsilon: this.deps.epsilon,
      unreachable: measured.unreachable,
      members: measured.members,
      vectorKeys: plan.vectorKeys,
      agreed: measured.agreed,
    };
    this.receive(outcome, startedAt);
    for (const m of reports.keys()) if (m !== self) transport.send(m, { kind: 'outcome', from: self, outcome });
    const fields = {
      operation: 'consensus_epoch',
      epoch_id: plan.epochId,
      error: outcome.error,
      converged: outcome.converged,
      rounds: outcome.rounds,
      duration_ms: timeSeconds * 1000,
      unreachable: outcome.unreachable,
    };
    if (outcome.converged) log.debug(fields, 'consensus epoch converged');
    else log.warn(fields, 'consensus epoch did not converge');
    return outcome;
  }

  /**
   * Runs an epoch every `intervalMs` while `isLeader()` says this node leads. kick() runs one sooner: when this node
   * becomes leader, or a member comes back, the cluster should not wait a whole interval to know where it stands.
   */
  start(intervalMs: number, isLeader: () => boolean): void {
    const { clock, log } = this.deps;
    const signal = this.stopping.signal;
    this.loop = (async () => {
      while (!signal.aborted) {
        const wake = new AbortController();
        this.wake = () => wake.abort();
        const onStop = () => wake.abort();
        signal.addEventListener('abort', onStop, { once: true });
        if (this.kicked) wake.abort();
        this.kicked = false;
        await clock.sleep(intervalMs, wake.signal).catch(() => undefined);
        signal.removeEventListener('abort', onStop);
        if (signal.aborted) return;
        if (!isLeader()) continue;
        try {
          await this.runEpoch();
        } catch (err) {
          log.error({ operation: 'consensus_epoch', err }, 'epoch failed');
        }
      }
    })();
  }

  /** Ends the current wait of the interval loop early; a kick during an epoch runs another right after it. */
  kick(): void {
    this.kicked = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('stopping'));
    await this.loop;
  }
}
