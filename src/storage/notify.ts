import pg from 'pg';
import { systemClock, TriadError, type Clock } from '../shared/index.js';
import { describeTarget, unreachable, type StorageLog } from './pool.js';

/** PostgreSQL rejects NOTIFY payloads of 8000 bytes or more. */
const maxPayloadBytes = 7_999;
const channelPattern = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ListenOptions {
  log?: StorageLog;
  clock?: Clock;
  applicationName?: string;
  /** First reconnect delay; doubles per failed attempt up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Called after a dropped connection is listening again. Notifications sent while it was down are lost for good
   * (PostgreSQL queues them only for connected listeners), so this is where the caller re-reads the state it follows.
   */
  onReconnect?: () => void;
}

export interface Listener {
  close(): Promise<void>;
}

/**
 * LISTENs on `channel` over a dedicated connection (a pooled one would stop listening when recycled) and calls
 * onPayload for every notification. Resolves once listening; rejects with STORAGE_UNAVAILABLE if the first connection
 * fails. After that, a dropped connection is re-established with exponential backoff until close().
 */
export async function listen(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
  options: ListenOptions = {},
): Promise<Listener> {
  assertChannel(channel);
  const clock = options.clock ?? systemClock;
  const target = describeTarget(url);
  const minDelayMs = options.minDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const closing = new AbortController();
  let client: pg.Client | undefined;

  const connect = async (): Promise<pg.Client> => {
    const next = new pg.Client({
      connectionString: url,
      application_name: options.applicationName ?? 'triad-listen',
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // Registered before connect(): an 'error' without a listener would crash the process.
    next.on('error', (err) => dropped(next, err));
    next.on('end', () => dropped(next, new Error('connection closed')));
    next.on('notification', (msg) => {
      if (msg.channel === channel) onPayload(msg.payload ?? '');
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${next.escapeIdentifier(channel)}`);
    } catch (err) {
      await next.end().catch(() => undefined);
      throw unreachable(target, err);
    }
    return next;
  };

  const dropped = (which: pg.Client, err: Error) => {
    if (client !== which || closing.signal.aborted) return;
    client = undefined;
    options.log?.warn({ err, operation: 'listen', channel, target }, 'LISTEN connection lost; reconnecting');
    void reconnect();
  };

  const reconnect = async () => {
    for (let attempt = 0; !closing.signal.aborted; attempt++) {
      const delay = Math.min(maxDelayMs, minDelayMs * 2 ** attempt);
      try {
        await clock.sleep(delay, closing.signal);
      } catch {
        return; // closed while waiting
      }
      try {
        const next = await connect();
        if (closing.signal.aborted) {
          await next.end().catch(() => undefined);
          return;
        }
        client = next;
        options.log?.info({ operation: 'listen', channel, target, attempt: attempt + 1 }, 'listening again');
        options.onReconnect?.();
        return;
      } catch (err) {
        options.log?.warn({ err, operation: 'listen', channel, target, attempt: attempt + 1 }, 'reconnect failed');
      }
    }
  };

  client = await connect();
  return {
    async close() {
      closing.abort();
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}

/** Sends a notification; delivered to listeners when the surrounding transaction (if any) commits. */
export async function notify(
  client: Pick<pg.ClientBase, 'query'>,
  channel: string,
  payload: string | object,
): Promise<void> {
  assertChannel(channel);
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxPayloadBytes) {
    throw new TriadError(
      'INPUT_INVALID',
      `NOTIFY payload on "${channel}" is ${bytes} bytes; PostgreSQL allows at most ${maxPayloadBytes}: send an id and let listeners read the row`,
    );
  }
  // Parameterised pg_notify rather than NOTIFY, which takes no bind parameters.
  await client.query('SELECT pg_notify($1, $2)', [channel, text]);
}

function assertChannel(channel: string): void {
  if (!channelPattern.test(channel)) {
    throw new TriadError(
      'INPUT_INVALID',
      `channel "${channel}" is not a plain lower-case identifier (letters, digits, _; at most 63 characters)`,
    );
  }
}
