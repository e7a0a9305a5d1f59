import { afterAll, describe, expect, test } from 'vitest';
import { scratchDir, triad as run } from './cli-harness.js';

const scratch = scratchDir();
afterAll(scratch.cleanup);
const triad = (args: string[]) => run(['consensus', 'analyze', ...args], scratch.dir, {});

describe('triad consensus analyze --resilience f', () => {
  test('K5 with f = 1: robust and tolerating one liar (JSON)', async () => {
    const result = await triad(['--topology', 'K5', '--resilience', '1', '--json']);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { resilience: Record<string, unknown> };
    expect(json.resilience).toMatchObject({ f: 1, robust: true, tolerates: true });
  });

  test('K3 with f = 1: (2, 2)-robust, yet a liar telling each neighbour something different wins (text)', async () => {
    const result = await triad(['--topology', 'K3', '--resilience', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('resilience  f = 1: (2, 2)-robust yes; W-MSR does not tolerate 1 lying node');
    expect(result.stdout).toContain('n ≥ 3f + 1 = 4 nodes');
  });

  test('a ring of 6 is not even (2, 2)-robust', async () => {
    const result = await triad(['--topology', 'ring:6', '--resilience', '1', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject({ resilience: { robust: false, tolerates: false } });
  });

  test('bad f and graphs too big for brute force are refused with INPUT_INVALID and exit 2', async () => {
    for (const args of [
      ['--topology', 'K5', '--resilience', '1.5'],
      ['--topology', 'K5', '--resilience=-1'],
      ['--topology', 'K5', '--resilience', '9'],
      ['--topology', 'K13', '--resilience', '1'],
    ]) {
      const result = await triad(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain('[INPUT_INVALID]');
    }
  });
});
