import { Writable } from 'node:stream';
import { expect, test } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { systemClock } from '../../../src/shared/index.js';

function capture() {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  const io = {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: {},
    cwd: process.cwd(),
    clock: systemClock,
    interactive: false,
  };
  return { io, out: () => out, err: () => err };
}

test('no command prints the overview and exits 2; --help exits 0', async () => {
  const bare = capture();
  expect(await runCli([], bare.io)).toBe(2);
  expect(bare.out()).toContain('usage: triad <command>');
  const help = capture();
  expect(await runCli(['--help'], help.io)).toBe(0);
});

test('an unknown flag is a usage error naming the command; --json errors are JSON on stdout too', async () => {
  const c = capture();
  expect(await runCli(['status', '--json', '--frob'], c.io)).toBe(2);
  expect(JSON.parse(c.out())).toEqual({
    error: { code: 'USAGE', message: "Unknown option '--frob' (see 'triad status --help')" },
  });
  expect(c.err()).toBe("triad: [USAGE] Unknown option '--frob' (see 'triad status --help')\n");
});

test('a missing required flag says which', async () => {
  const c = capture();
  expect(await runCli(['node'], c.io)).toBe(2);
  expect(c.err()).toContain("missing --instance (see 'triad node --help')");
});
