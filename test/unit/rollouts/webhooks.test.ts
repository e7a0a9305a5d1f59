import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { signBody, verifyDelivery, webhookBody } from '../../../src/rollouts/index.js';

const event = {
  id: 42,
  runId: 7,
  kind: 'waiting_approval',
  stepIndex: 3,
  message: 'waiting for approval: go/no-go',
  data: {},
  at: Date.UTC(2025, 0, 2, 3, 4, 5),
};

describe('rollout webhook bodies and signatures', () => {
  test('the signature is sha256=<hex> HMAC-SHA256 of the raw body with the key', () => {
    const body = webhookBody('json', event, 'cascade', 1_735_787_045);
    expect(signBody('k', body)).toBe(`sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`);
    expect(JSON.parse(body)).toEqual({
      event: 'waiting_approval',
      event_id: 42,
      plan: 'cascade',
      run_id: 7,
      step: 3,
      message: 'waiting for approval: go/no-go',
      data: {},
      at: '2025-01-02T03:04:05.000Z',
      timestamp: 1_735_787_045,
    });
  });

  test('Slack format: text for the channel, triad fields beside it', () => {
    const body = JSON.parse(webhookBody('slack', event, 'cascade', 1)) as { text: string; triad: { event_id: number } };
    expect(body.text).toBe('triad rollout cascade #7: waiting approval — waiting for approval: go/no-go');
    expect(body.triad.event_id).toBe(42);
  });

  test('verification refuses a changed body, another key, a changed timestamp header and a stale delivery', () => {
    const ts = 1_735_787_045;
    const body = webhookBody('json', event, 'cascade', ts);
    const headers = { signature: signBody('k', body), timestamp: String(ts) };
    const now = ts * 1000 + 10_000;
    expect(verifyDelivery('k', body, headers, now)).toBe(true);
    expect(verifyDelivery('k', body.replace('cascade', 'cascadf'), headers, now)).toBe(false);
    expect(verifyDelivery('other', body, headers, now)).toBe(false);
    expect(verifyDelivery('k', body, { ...headers, timestamp: String(ts + 600) }, now + 600_000)).toBe(false);
    expect(verifyDelivery('k', body, headers, now + 3_600_000)).toBe(false);
    expect(verifyDelivery('k', body, { signature: undefined, timestamp: String(ts) }, now)).toBe(false);
  });
});
