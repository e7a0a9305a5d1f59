import { createHash } from 'node:crypto';
import pg from 'pg';
import { TriadError } from '../shared/index.js';
import { describeTarget, unreachable, type StorageLog } from './pool.js';

/**
 * A 64-bit advisory lock key from a name: the first 8 bytes of sha256(name) as a signed bigint, in decimal (pg's
 * bigint parameter form). Computed here rather than with PostgreSQL's hashtext(), whose output is an internal detail
 * that may change between major versions and is only 32 bits wide; sha256 gives every process, release and server
 * the same key for the same name. The names below are part of the on-disk contract: never rename one.
 */
export function lockKey(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest().readBigInt64BE(0).toString();
}

export const lockKeys = {
  /** Every admin mutation of desired state (DESIGN §2), transaction-scoped. */
  clusterDeployment: lockKey('triad:cluster-deployment'),
  /** Leader election for cluster-wide duties, session-scoped on a dedicated connection. */
  leader: lockKey('triad:leader'),
  /** Serialises concurrent `triad migrate` / node start-ups. */
  migrations: lockKey('triad:migrations'),
  /** Serialises audit appends so each row chains onto the latest committed one. */
  auditLog: lockKey('triad:audit-log'),
} as const;

/**
 * How long a desired-state change waits for the cluster deployment lock before it is refused with LOCK_HELD. Waiting
 * a little serialises concurrent changes (three operators, the automatic rollback, a rollout step) instead of failing
 * the second one; waiting without bound would hide a stuck change behind a hanging command.
 */
export const clusterLockWaitMs = 5_000;

/**
 * Takes the cluster deployment lock (DESIGN §2) for the rest of the caller's transaction: every desired-state change
 * runs under it, so versions are assigned one at a time. The one lock policy of triad: wait up to `waitMs`
 * (default clusterLockWaitMs), then fail with LOCK_HELD naming how long it waited. Needs a client inside BEGIN — outside
 * one, a transaction-scoped lock would be released at the end of this very statement.
 */
export async function lockClusterDeployment(client: pg.ClientBase, waitMs = clusterLockWaitMs): Promise<void> {
  if (client.getTransactionStatus() !== 'T') {
    throw new TriadError('INTERNAL', 'lockClusterDeployment needs a client inside BEGIN (use withTransaction)');
  }
  if (!Number.isInteger(waitMs) || waitMs < 1) throw new TriadError('INTERNAL', `lock wait ${waitMs} ms is not ≥ 1`);
  await client.query(`SET LOCAL lock_timeout = '${waitMs}ms'`);
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeys.clusterDeployment]);
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') {
      throw new TriadError(
        'LOCK_HELD',
        `another change holds the cluster deployment lock (waited ${waitMs / 1000}s); retry when it finishes`,
      );
    }
    throw err;
  }
}

export interface SessionLockOptions {
  /** Called once when a held lock is lost because its connection died; the holder must stop acting as leader. */
  onLost?: (err: Error) => void;
  applicationName?: string;
  log?: StorageLog;
  /**
   * How long verify() waits for its round trip (default 2 s). Without a bound, a leader whose packets to PostgreSQL
   * are silently dropped waited in verify() for the kernel's keepalive (minutes) while still calling itself leader.
   */
  verifyTimeoutMs?: number;
}

/**
 * A session-scoped advisory lock on a dedicated connection, for leader election (DESIGN §2). The lock lives exactly as
 * long as the connection: when this process dies, or its connection is terminated, PostgreSQL frees the lock and
 * another node's tryAcquire() succeeds. A pool is deliberately not used: a pooled client can be recycled or idle-closed,
 * which would drop leadership silently.
 */
export class SessionLock {
  private client: pg.Client | undefined;
  private held = false;
  readonly target: string;

  constructor(
    private readonly url: string,
    readonly key: string,
    private readonly options: SessionLockOptions = {},
  ) {
    this.target = describeTarget(url);
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** True when this session now holds the lock (or already did); false when another session does. Never waits. */
  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const client = await this.connection();
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
      this.key,
    ]);
    this.held = rows[0]?.locked === true;
    return this.held;
  }

  /**
   * Proves the lock is still ours with a round trip: the socket closing is noticed at once, but a silent network
   * partition only when something is sent. Leaders call this before each cluster-wide action.
   */
  async verify(): Promise<boolean> {
    if (!this.held || !this.client) return false;
    const client = this.client;
    const timeoutMs = this.options.verifyTimeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Found by the fault suite (leader cut from PostgreSQL only): a silent partition never answers and never errors.
      const check = client.query('SELECT 1');
      check.catch(() => undefined); // when the deadline wins, the query fails later on the ended client
      await Promise.race([
        check,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`PostgreSQL did not answer the leader lock's check within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return this.held;
    } catch (err) {
      if (this.client === client) this.client = undefined;
      this.lost(err instanceof Error ? err : new Error(String(err)));
      // Not awaited: ending a session whose packets vanish waits as long as the query did.
      void client.end().catch(() => undefined);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Releases the lock and closes the connection; safe to call when not held or already closed. */
  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.held = false;
    if (!client) return;
    try {
      // Ending the session frees the lock anyway; unlocking first makes the hand-over immediate and explicit.
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key]);
    } catch {
      // The connection is already gone, and the lock with it.
    }
    await client.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.url,
      application_name: this.options.applicationName ?? 'triad-leader-lock',
      connectionTimeoutMillis: 5_000,
      // Detects a peer that vanished without closing the socket (power loss, partition) within about a minute.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // The server side too: a leader that vanished without closing its socket holds the lock until PostgreSQL notices
      // (the kernel's default is two hours of silence); with these, within about 11 s, and another node takes over.
      options: '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3',
    });
    client.on('error', (err) => this.onConnectionGone(client, err));
    client.on('end', () => this.onConnectionGone(client, new Error('connection to PostgreSQL closed')));
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw unreachable(this.target, err);
    }
    this.client = client;
    return client;
  }

  private onConnectionGone(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    if (this.held) this.lost(err);
  }

  private lost(err: Error): void {
    if (!this.held) return;
    this.held = false;
    this.options.log?.warn(
      { err, operation: 'session_lock', target: this.target },
      'advisory lock lost with its connection',
    );
    this.options.onLost?.(err);
  }
}
