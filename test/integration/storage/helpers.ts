import { pino, type Logger } from 'pino';

export interface RecordedLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A real pino logger whose lines land in an array, so tests can assert what was said (and that nothing crashed). */
export function recordingLog(): { log: Logger; lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  const log = pino(
    { level: 'debug', formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => lines.push(JSON.parse(line) as RecordedLine) },
  );
  return { log, lines };
}
