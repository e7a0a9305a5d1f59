import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIO } from '../../../src/cli/command.js';
import { runCli } from '../../../src/cli/main.js';
import { systemClock } from '../../../src/shared/index.js';

export const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'graphs');

/** A scratch working directory for one test file; call the returned cleanup in afterAll. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'triad-consensus-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `triad …` in process with captured output; `files` are written to the working directory first. */
export async function triad(args: string[], cwd: string, files: Record<string, string> = {}) {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  const out = { stdout: '', stderr: '' };
  const sink = (key: 'stdout' | 'stderr') =>
    ({
      write: (chunk: string | Uint8Array) => {
        out[key] += String(chunk);
        return true;
      },
    }) as unknown as NodeJS.WritableStream;
  const io: CliIO = {
    stdout: sink('stdout'),
    stderr: sink('stderr'),
    env: {},
    cwd,
    clock: systemClock,
    interactive: false,
  };
  const code = await runCli(args, io);
  return { code, ...out };
}
