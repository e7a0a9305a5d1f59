import type { ServerResponse } from 'node:http';
import type { Clock } from '../shared/index.js';

/** What the console pushes: a new desired-state version applied here, a consensus epoch's outcome, a rollout run event. */
export type ConsoleEvent =
  | { type: 'version'; version: number }
  | { type: 'epoch'; epochId: string; error: number; converged: boolean }
  | { type: 'rollout'; runId: number; kind: string; message: string };

/**
 * Server-Sent Events to the open consoles. SSE rather than a WebSocket: the stream is one-way (actions are plain
 * POSTs with a CSRF header), it rides the node's existing HTTP(S) server and its bounds, and needs no extra
 * dependency. Streams are capped per node (each is an open connection counted against the server's 128) and end
 * when their session does, so an expired session cannot keep receiving.
 */
export function createEventHub(deps: { clock: Pick<Clock, 'now'>; heartbeatMs?: number; maxStreams?: number }) {
  const streams = new Set<{ res: ServerResponse; timer: NodeJS.Timeout }>();
  const heartbeatMs = deps.heartbeatMs ?? 5_000;
  const maxStreams = deps.maxStreams ?? 32;
  let sequence = 0;
  const write = (res: ServerResponse, event: string, data: unknown) =>
    res.write(`id: ${++sequence}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  return {
    get size(): number {
      return streams.size;
    },
    /** Opens a stream on `res`, closed at `endsAtMs` (the session's end). False when the cap is reached. */
    open(res: ServerResponse, endsAtMs: number): boolean {
      if (streams.size >= maxStreams) return false;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
      write(res, 'hello', { at: deps.clock.now() });
      // A comment-free heartbeat the page can see: no event for a few beats means the stream is stale.
      const timer = setInterval(() => {
        if (deps.clock.now() >= endsAtMs) {
          close();
          return;
        }
        write(res, 'ping', { at: deps.clock.now() });
      }, heartbeatMs);
      const entry = { res, timer };
      const close = () => {
        clearInterval(timer);
        streams.delete(entry);
        res.end();
      };
      streams.add(entry);
      res.on('close', close);
      return true;
    },
    publish(event: ConsoleEvent): void {
      for (const { res } of streams) write(res, event.type, event);
    },
    closeAll(): void {
      for (const { res, timer } of streams) {
        clearInterval(timer);
        res.end();
      }
      streams.clear();
    },
  };
}

export type EventHub = ReturnType<typeof createEventHub>;
