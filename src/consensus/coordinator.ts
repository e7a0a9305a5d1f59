import { TriadError, type Clock, type Logger } from '../shared/index.js';
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
  private counter = 0;
  private readonly bootId: string;
  private latest?: EpochOutcome;
  private loop?: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly reports: Mailbox<EpochReport>;
  private wake: () => void = () => undefined;
  private kicked = false;

  constructor(private readonly deps: CoordinatorDeps) {
    this.bootId = deps.clock.now().toString(36);
    this.reports = new Mailbox(deps.clock);
  }

  /** Every consensus message from a peer arrives here, whatever its role in the epoch. */
  deliver(message: ConsensusMessage): void {
    switch (message.kind) {
      case 'plan':
        this.participate(message.from, message.plan);
        return;
      case 'round':
        this.deps.participant.deliverRound({ ...message.round, from: message.from });
        return;
      case 'report':
        this.reports.put(message.report.epochId, message.from, message.report);
        return;
      case 'outcome':
        this.receive(message.outcome);
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

  receive(outcome: EpochOutcome): void {
    // Outcomes of concurrent epochs can arrive out of order; keep the one that started last.
    if (this.latest && this.latest.startedAtMs > outcome.startedAtMs) return;
    this.latest = outcome;
    this.deps.onOutcome(outcome);
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
    const participants = members.filter((m) => m === self || this.deps.isReachable(m));
    const graph = this.deps.planGraph(participants);
    const startedAt = clock.now();
    const started = clock.monotonicMs();
    // Snapshot first, so the plan can carry this node's round-0 value (see EpochParticipant.run).
    const snapshot = participants.includes(self) ? this.deps.participant.snapshot() : undefined;
    const plan: EpochPlan = {
      // Unique without randomness: the counter within this process, the start time across restarts of the node.
      epochId: `${self}-${this.bootId}-${++this.counter}`,
      initiator: self,
      participants,
      edges: graph.edges,
      step: graph.step,
      rounds: graph.rounds,
      roundTimeoutMs: this.deps.roundTimeoutMs,
      vectorKeys: [...measurementKeys],
      ...(snapshot && graph.rounds > 0 ? { initiatorValue: snapshot } : {}),
    };
    for (const p of participants) if (p !== self) transport.send(p, { kind: 'plan', from: self, plan });
    // A participant needs at most one round timeout per round (a neighbour dropping), plus slack for the messages.
    const deadlineMs = this.deps.roundTimeoutMs * Math.max(1, plan.rounds) + 1_000;
    const settled = await Promise.allSettled(
      participants.map((p) =>
        p === self
          ? this.deps.participant.run(plan, snapshot)
          : this.reports.get(plan.epochId, p, deadlineMs, `${p}'s report for epoch ${plan.epochId}`),
      ),
    );
    const timeSeconds = (clock.monotonicMs() - started) / 1000;
    if (this.counter % 256 === 0) this.reports.collect(60_000);
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
    const measured = measureEpoch(members, reports, this.deps.epsilon);
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
    this.receive(outcome);
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
