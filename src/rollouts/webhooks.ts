import { createHmac, timingSafeEqual } from 'node:crypto';
import { triadVersion, type Clock, type Logger } from '../shared/index.js';
import type { DeliveryState, EventRow, RolloutStore, StoragePool } from '../storage/index.js';
import type { Notification, Plan } from './plan.js';

/**
 * Webhooks on run events, delivered by the leader from the rollout_events table (an outbox): nothing is queued in this
 * process, so a new leader retries whatever the old one had not delivered. Every attempt is a row of
 * rollout_webhook_deliveries (the delivery log). A receiver sees one run's events in order: an event is not sent to a
 * URL before the run's previous event has been delivered there or given up on.
 */

export const signatureHeader = 'x-triad-signature';
export const timestampHeader = 'x-triad-timestamp';

/** `sha256=<hex>` of HMAC-SHA256 over the raw body, as GitHub's X-Hub-Signature-256. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * What a receiver does: the signature must match the raw body, and the timestamp (which the signed body repeats, so
 * it cannot be changed) must be recent, so a captured delivery cannot be replayed later.
 */
export function verifyDelivery(
  secret: string,
  body: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  nowMs: number,
  toleranceMs = 5 * 60_000,
): boolean {
  if (!headers.signature || !headers.timestamp) return false;
  const want = Buffer.from(signBody(secret, body));
  const got = Buffer.from(headers.signature);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
  let signedTs: unknown;
  try {
    const parsed = JSON.parse(body) as { timestamp?: unknown; triad?: { timestamp?: unknown } };
    signedTs = parsed.timestamp ?? parsed.triad?.timestamp;
  } catch {
    return false;
  }
  const ts = Number(headers.timestamp);
  return signedTs === ts && Math.abs(nowMs - ts * 1000) <= toleranceMs;
}

/** The body of one delivery: triad's JSON, or Slack's incoming-webhook shape (`text`, with triad's fields beside). */
export function webhookBody(
  format: Notification['format'],
  event: EventRow,
  planName: string,
  timestampSec: number,
): string {
  const fields = {
    event: event.kind,
    event_id: event.id,
    plan: planName,
    run_id: event.runId,
    step: event.stepIndex ?? null,
    message: event.message,
    data: event.data,
    at: new Date(event.at).toISOString(),
    timestamp: timestampSec,
  };
  if (format === 'json') return JSON.stringify(fields);
  return JSON.stringify({
    text: `triad rollout ${planName} #${event.runId}: ${event.kind.replace(/_/g, ' ')} — ${event.message}`,
    triad: fields,
  });
}

export interface WebhookDeps {
  pool: StoragePool;
  store: RolloutStore<Plan>;
  clock: Clock;
  log: Logger;
  /** Where HMAC keys come from: a plan names the variable (`secret_env`), never the key. */
  env: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  /** Attempts per event and URL before giving up (each one logged). */
  maxAttempts?: number;
  /** Wait after the first failed attempt; doubled after each further one, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

export function createWebhookSender(deps: WebhookDeps) {
  const { pool, store, clock, log } = deps;
  const maxAttempts = deps.maxAttempts ?? 8;
  const base = deps.baseDelayMs ?? 30_000;
  const cap = Math.max(base, deps.maxDelayMs ?? 3_600_000);
  const backoff = (attempts: number) => Math.min(cap, base * 2 ** Math.max(0, attempts - 1));
  // Every event at or below this id is finished for every URL; on a new leader it starts at 0 and catches up.
  let cursor = 0;

  const attempt = async (event: EventRow, planName: string, n: Notification, number: number): Promise<boolean> => {
    const timestamp = Math.floor(clock.now() / 1000);
    const body = webhookBody(n.format, event, planName, timestamp);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `triad/${triadVersion}`,
      'x-triad-event': event.kind,
      'x-triad-delivery': String(event.id),
      [timestampHeader]: String(timestamp),
    };
    let status: number | undefined;
    let error: string | undefined;
    const secret = n.secretEnv ? deps.env[n.secretEnv] : undefined;
    if (n.secretEnv && !secret) {
      // Never send unsigned what the plan asked to sign: log the attempt as failed and try again later.
      error = `environment variable ${n.secretEnv} (the HMAC key) is not set on this node`;
    } else {
      if (secret) headers[signatureHeader] = signBody(secret, body);
      try {
        const res = await (deps.fetch ?? fetch)(n.url, {
          method: 'POST',
          headers,
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(deps.timeoutMs ?? 5_000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) error = `answered ${res.status}`;
      } catch (err) {
        error = (err as Error).message.slice(0, 300);
      }
    }
    const delivered = error === undefined;
    await store.addDelivery(pool, {
      eventId: event.id,
      url: n.url,
      attempt: number,
      status,
      error,
      delivered,
      at: clock.now(),
    });
    if (!delivered)
      log[number >= maxAttempts ? 'error' : 'warn'](
        { operation: 'rollout_webhook', event_id: event.id, url: n.url, attempt: number, error },
        number >= maxAttempts ? 'webhook delivery given up' : 'webhook delivery failed; will retry',
      );
    return delivered;
  };

  return {
    /** One pass: sends what is due, oldest first; a failed delivery holds back that run's later events to its URL. */
    async tick(): Promise<void> {
      const batch = await store.notifiableEvents(pool, cursor, 500);
      if (batch.length === 0) return;
      const states = new Map<string, DeliveryState>(
        (
          await store.deliveryState(
            pool,
            batch.map((b) => b.event.id),
          )
        ).map((s) => [`${s.eventId} ${s.url}`, s]),
      );
      const held = new Set<string>();
      let finishedUpTo = cursor;
      let allFinished = true;
      for (const { event, planName, notifications } of batch) {
        let eventFinished = true;
        for (const n of (Array.isArray(notifications) ? notifications : []) as Notification[]) {
          const st = states.get(`${event.id} ${n.url}`);
          if (st && (st.delivered || st.attempts >= maxAttempts)) continue;
          const key = `${event.runId} ${n.url}`;
          if (held.has(key)) {
            eventFinished = false;
            continue;
          }
          const attempts = st?.attempts ?? 0;
          if (st && clock.now() < st.lastAt + backoff(attempts)) {
            held.add(key);
            eventFinished = false;
            continue;
          }
          const ok = await attempt(event, planName, n, attempts + 1);
          if (!ok && attempts + 1 < maxAttempts) {
            held.add(key);
            eventFinished = false;
          }
        }
        allFinished &&= eventFinished;
        if (allFinished) finishedUpTo = event.id;
      }
      cursor = finishedUpTo;
    },
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;
