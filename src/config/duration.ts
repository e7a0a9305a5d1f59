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

/** A YAML duration field: a string like "7d" parsed to milliseconds, with the allowed form in the error. */
export const durationMs = z.string().transform((text, ctx) => {
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "500ms", "15m" or "7d", received "${text}"` });
    return z.NEVER;
  }
  return ms;
});
