import { repeatEvery, type Clock, type Logger } from '../shared/index.js';
import {
  checkVersionSeal,
  instanceStateStore,
  listen,
  type AuditKey,
  type Listener,
  type StoragePool,
} from '../storage/index.js';
import { desiredStateChannel } from './service.js';
import type { DesiredStateStore, VersionRow } from './state-store.js';

export interface ApplierDeps {
  pool: StoragePool;
  databaseUrl: string;
  store: DesiredStateStore;
  self: string;
  clock: Clock;
  log: Logger;
  /** Checks each version's audit row before it is applied (docs/security.md, "Audit"). */
  auditKey: AuditKey;
  /** A version refused because its audit row does not verify (counted in a metric). */
  onRefused?: (version: number, reason: string) => void;
  /** Called with each newly applied version, in order, never twice for one version. */
  onApplied: (row: VersionRow) => void;
  /** Fallback for a missed notification (PostgreSQL drops them while a listener reconnects). */
  pollMs?: number;
}

/**
 * Follows desired state on one node (DESIGN §2): learns of new versions through LISTEN/NOTIFY, a direct push from the
 * node that wrote them, or a slow poll; applies the newest idempotently, one at a time, and reports applied_version.
 */
export class DesiredStateApplier {
  private current: VersionRow;
  private queue: Promise<number> = Promise.resolve(0);
  private listener?: Listener;
  private readonly stopping = new AbortController();
  private poller?: Promise<void>;
  private refusal?: { version: number; reason: string };

  constructor(private readonly deps: ApplierDeps) {
    this.current = deps.store.initial();
  }

  get applied(): VersionRow {
    return this.current;
  }

  /** The newest version refused (its audit row does not verify), until a newer one is applied. */
  get refused(): { version: number; reason: string } | undefined {
    return this.refusal;
  }

  async start(): Promise<void> {
    await this.catchUp();
    this.listener = await listen(
      this.deps.databaseUrl,
      desiredStateChannel,
      () => void this.catchUp().catch(() => undefined),
      {
        log: this.deps.log,
        clock: this.deps.clock,
        applicationName: `triad-${this.deps.self}-listen`,
        onReconnect: () => void this.catchUp().catch(() => undefined),
      },
    );
    this.poller = this.poll(this.deps.pollMs ?? 5_000);
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('stopping'));
    await this.poller;
    await this.listener?.close();
  }

  /** Applies `version` or newer if it is not applied yet; resolves with the version applied afterwards. */
  async applyAtLeast(version: number): Promise<number> {
    if (this.current.version >= version) return this.current.version;
    return this.catchUp();
  }

  /** Serialised: concurrent triggers (notify + push + poll) share one read of the newest version. */
  catchUp(): Promise<number> {
    const next = this.queue.then(
      () => this.applyLatest(),
      () => this.applyLatest(),
    );
    this.queue = next.catch(() => this.current.version);
    return next;
  }

  private async applyLatest(): Promise<number> {
    const latest = await this.deps.store.latest(this.deps.pool);
    if (latest.version <= this.current.version) return this.current.version;
    // Desired state is what this node acts on: a version nobody can show was written through triad (its keyed audit
    // row missing, or not matching it) is refused, and the node stays on what it has and says so on /ready.
    const seal = await checkVersionSeal(this.deps.pool, this.deps.auditKey, latest.version);
    if (!seal.ok) {
      if (this.refusal?.version !== latest.version) {
        this.deps.onRefused?.(latest.version, seal.reason);
        this.deps.log.error(
          { operation: 'apply_desired_state', version: latest.version, reason: seal.reason },
          'desired state version refused: its audit row does not verify',
        );
      }
      this.refusal = { version: latest.version, reason: seal.reason };
      return this.current.version;
    }
    this.refusal = undefined;
    this.current = latest;
    this.deps.onApplied(latest);
    this.deps.log.info(
      { operation: 'apply_desired_state', version: latest.version, command: latest.command },
      'desired state applied',
    );
    // Bookkeeping for operators reading the database; the node's own answer (GetState, Apply) does not wait for it.
    instanceStateStore
      .recordApplied(this.deps.pool, this.deps.self, latest.version, this.deps.clock.now())
      .catch((err: unknown) =>
        this.deps.log.warn({ operation: 'apply_desired_state', err }, 'could not record applied version'),
      );
    return latest.version;
  }

  private poll(intervalMs: number): Promise<void> {
    return repeatEvery(this.deps.clock, intervalMs, this.stopping.signal, () =>
      this.catchUp().catch((err: unknown) =>
        this.deps.log.warn({ operation: 'apply_desired_state', err }, 'poll failed'),
      ),
    );
  }
}
