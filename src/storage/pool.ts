import pg from 'pg';
import { TriadError, type Logger } from '../shared/index.js';

/** What a store runs its SQL on: a pool, or one client inside a transaction (the caller decides which). */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** The slice of a logger storage needs: tests pass a silent pino or a recorder. */
export type StorageLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface PoolOptions {
  /** Shown in pg_stat_activity, so an operator can tell triad's sessions apart (e.g. "triad-alpha"). */
  applicationName: string;
  log?: StorageLog;
  /** Default 10: a node's batches, gates and admin writes; five nodes stay well under max_connections = 100. */
  max?: number;
  /** Default 30 s. A runaway query must not hold a connection (or the cluster lock) forever. */
  statementTimeoutMs?: number;
}

/**
 * A pg.Pool whose connection failures are TriadError('STORAGE_UNAVAILABLE') naming host:port/db (never the password).
 * pool.query() goes through connect() too, so both paths explain themselves.
 */
export class StoragePool extends pg.Pool {
  /** `host:port/db` of the server, safe to print. */
  readonly target: string;

  constructor(config: pg.PoolConfig, target: string) {
    super(config);
    this.target = target;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): void;
  override connect(
    callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): Promise<pg.PoolClient> | void {
    if (callback) {
      super.connect((err, client, done) => callback(err ? unreachable(this.target, err) : undefined, client, done));
      return;
    }
    return super.connect().catch((err: unknown) => {
      throw unreachable(this.target, err);
    });
  }
}

export function createPool(url: string, options: PoolOptions): StoragePool {
  const target = describeTarget(url);
  const pool = new StoragePool(
    {
      connectionString: url,
      application_name: options.applicationName,
      max: options.max ?? 10,
      // Fail a connect within 5 s rather than queueing callers behind a dead server.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      // Sent as startup parameters, so they hold on every connection without an extra SET round trip.
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      // A client that crashes inside BEGIN … would otherwise keep its locks (e.g. the deployment lock) until TCP gives up.
      idle_in_transaction_session_timeout: 60_000,
      keepAlive: true,
    },
    target,
  );
  // An idle client losing its connection (server restart, pg_terminate_backend) emits 'error' on the pool; unhandled,
  // that event would crash the process. The pool already discards the client, so logging is all there is to do.
  pool.on('error', (err) => {
    options.log?.warn({ err, operation: 'storage_pool', target }, 'idle PostgreSQL connection lost');
  });
  // pg-pool removes its own 'error' listener while a client is checked out, so a connection lost between two queries
  // of a transaction emitted an unhandled 'error' and killed the node (found by the fault suite: PostgreSQL restarting
  // under load). The caller still learns of it: its next query on that client fails, and the client is discarded.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      options.log?.warn({ err, operation: 'storage_pool', target }, 'PostgreSQL connection lost');
    });
  });
  return pool;
}

/** One round trip: resolves when the server answers, rejects (STORAGE_UNAVAILABLE) when it cannot be reached. */
export async function probe(pool: Queryable): Promise<void> {
  await pool.query('SELECT 1');
}

/** Runs fn inside BEGIN … COMMIT on one client; rolls back and rethrows on any error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      // The connection itself is gone or wedged: hand it back for destruction, not for reuse.
      broken = rollbackErr;
    }
    throw err;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/** `host:port/db` for messages; the password (and anything else in the URL) is never echoed. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)';
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${db}`;
  } catch {
    return '(unparsable database URL)';
  }
}

/** Wraps a connection failure; the cause keeps the SQLSTATE or errno so retryable() can still judge it. */
export function unreachable(target: string, err: unknown): TriadError {
  if (err instanceof TriadError) return err;
  const reason = err instanceof Error ? err.message || errorCodeOf(err) || err.name : String(err);
  return new TriadError('STORAGE_UNAVAILABLE', `cannot reach PostgreSQL at ${target}: ${reason}`, { cause: err });
}

/**
 * SQLSTATEs worth retrying (https://www.postgresql.org/docs/current/errcodes-appendix.html): the statement may
 * succeed if run again, unchanged. As in graphile-worker's lib.ts, decided by code, never by message text.
 */
const retryableSqlStates = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (NOWAIT / lock_timeout)
  '53300', // too_many_connections
  '57P01', // admin_shutdown (server restarting, or pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (still starting up)
]);

/** Socket-level failures (libuv errno names) that a reconnect can cure. */
const retryableErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * True when running the same operation again may succeed: serialisation failures, deadlocks, class 08 (connection
 * exception), server restarts, dropped sockets. Looks through `cause` chains, so a STORAGE_UNAVAILABLE wrapping
 * ECONNREFUSED is retryable while one wrapping 28P01 (bad password) or 3D000 (no such database) is not.
 */
export function retryable(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const cause = (current as { cause?: unknown }).cause;
    if (current instanceof TriadError) {
      // A connect that failed with no code of its own (pg's connection timeout) is transient by nature.
      if (current.code === 'STORAGE_UNAVAILABLE' && errorCodeOf(cause) === undefined) return true;
    } else {
      const code = errorCodeOf(current);
      // Errnos first: EPIPE is five capitals too, but it is not a SQLSTATE.
      if (code !== undefined && retryableErrnos.has(code)) return true;
      if (code !== undefined && /^[0-9A-Z]{5}$/.test(code))
        return code.startsWith('08') || retryableSqlStates.has(code);
    }
    current = cause;
  }
  return false;
}

function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
