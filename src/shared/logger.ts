import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Fields that follow one call across processes: set at the gRPC edge, read by every log line (DESIGN §6). */
export interface CallContext {
  trace_id: string;
  correlation_id?: string;
  /** Who is calling, as the edge verified it from the client certificate (never what the client says of itself). */
  caller?: { role: string; name: string; subject: string };
}

export const callContext = new AsyncLocalStorage<CallContext>();

export function newTraceId(): string {
  return randomUUID().replaceAll('-', '');
}

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout; `triad up` and tests pass their own stream. */
  destination?: DestinationStream;
}

export function createLogger(instance: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'triad', instance },
      redact: ['database_url', 'redis_url', '*.password', '*.database_url', '*.redis_url'],
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      // pino merges call fields into the returned object: hand it a copy, never the store itself.
      mixin: () => ({ ...callContext.getStore() }),
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
