import { CronExpressionParser } from 'cron-parser';

const weekMs = 7 * 86_400_000;

/** When R6's next run after `from` is due, and how much time one run accounts for (its burden is spread over it). */
export interface R6Schedule {
  periodMs: number;
  nextRunAt: (from: number) => number;
}

/**
 * R6 runs for strategic use only, on the cron schedule of layers.yaml (Monday 09:00 UTC by default). A compressed
 * profile (the demo) runs it every compressed week instead: a cron expression cannot be scaled.
 */
export function r6Schedule(schedule: string | undefined, compress: ((ms: number) => number) | undefined): R6Schedule {
  if (compress || !schedule) {
    const periodMs = compress ? compress(weekMs) : weekMs;
    return { periodMs, nextRunAt: (from) => from + periodMs };
  }
  return {
    periodMs: weekMs,
    nextRunAt: (from) =>
      CronExpressionParser.parse(schedule, { currentDate: new Date(from), tz: 'UTC' })
        .next()
        .getTime(),
  };
}
