import type { Clock, Logger } from '../shared/index.js';
import { lockKeys, SessionLock } from '../storage/index.js';

export interface LeaderElectionDeps {
  databaseUrl: string;
  self: string;
  clock: Clock;
  log: Logger;
  /** How often a follower tries to take the lock, and a leader proves it still holds it. */
  intervalMs?: number;
}

/**
 * One leader for cluster-wide duties (DESIGN §2) through a PostgreSQL session advisory lock: whoever holds it leads;
 * when the leader dies its session ends, the lock frees and the next follower to try takes over.
 */
export class LeaderElection {
  private readonly lock: SessionLock;
  private leading = false;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private readonly listeners: ((isLeader: boolean) => void)[] = [];

  constructor(private readonly deps: LeaderElectionDeps) {
    this.lock = new SessionLock(deps.databaseUrl, lockKeys.leader, {
      applicationName: `triad-${deps.self}-leader`,
      log: deps.log,
      onLost: () => this.set(false),
    });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Told on every change of leadership from now on. */
  onChange(listener: (isLeader: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    const signal = this.stopping.signal;
    this.loop = (async () => {
      while (!signal.aborted) {
        try {
          this.set(this.leading ? await this.lock.verify() : await this.lock.tryAcquire());
        } catch (err) {
          // No database, no leadership: a leader that cannot prove its lock must not act as one.
          this.set(false);
          this.deps.log.debug({ operation: 'leader_election', err }, 'leader lock unavailable');
        }
        try {
          await this.deps.clock.sleep(this.deps.intervalMs ?? 1_000, signal);
        } catch {
          return;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('stopping'));
    await this.loop;
    await this.lock.release();
    this.set(false);
  }

  private set(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.deps.log.info(
      { operation: 'leader_election', leader: leading },
      leading ? 'became leader' : 'no longer leader',
    );
    for (const listener of this.listeners) listener(leading);
  }
}
