import { z } from 'zod';

const units = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Prometheus-style durations ("500ms", "15m", "7d", "1h30m") to milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(text) ? text.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d|w)/g) : null;
  if (!parts) return undefined;
  let total = 0;
  for (const part of parts) {
    const unit = part.endsWith('ms') ? 'ms' : (part.at(-1) as keyof typeof units);
    total += Number.parseFloat(part) * units[unit];
  }
  return total;
}

export function formatDurationMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  if (ms < 86_400_000) return `${+(ms / 3_600_000).toFixed(1)}h`;
  return `${+(ms / 86_400_000).toFixed(1)}d`;
}

/**
 * The longest duration a timer can hold: setTimeout keeps 2^31 − 1 ms (24.8 days) and silently fires after 1 ms for
 * anything longer, so a "30d" interval would turn into a busy loop.
 */
export const maxTimerMs = 24 * 86_400_000;
/** The longest period compared against timestamps (a stage's stable_for): a year and a day. */
export const maxPeriodMs = 366 * 86_400_000;

function durationField(options: { allowZero: boolean; maxMs: number }) {
  const range = `${options.allowZero ? '[0' : '(0'}, ${formatDurationMs(options.maxMs)}]`;
  return z.string().transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like "500ms", "15m" or "7d", received "${text}"` });
      return z.NEVER;
    }
    if ((ms === 0 && !options.allowZero) || ms > options.maxMs) {
      ctx.addIssue({ code: 'custom', message: `expected a duration within ${range}, received "${text}"` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A YAML duration field a timer waits for: within (0, 24d], with the allowed form in the error. */
export const durationMs = durationField({ allowZero: false, maxMs: maxTimerMs });
/** Like durationMs, where 0 means "none" (an injected latency). */
export const optionalDelayMs = durationField({ allowZero: true, maxMs: maxTimerMs });
/** A period compared against timestamps, never waited for by a timer: within (0, 366d]. */
export const periodMs = durationField({ allowZero: false, maxMs: maxPeriodMs });
