import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  readyOf,
  runTriad,
  triadBin,
  waitFor,
  writeClusterConfig,
  type WrittenConfig,
} from '../../fixtures/cluster.js';

interface UpEvent {
  type: string;
  name?: string;
  pid?: number;
  restartInMs?: number;
  nodes?: { instance: string; pid: number; grpc: string }[];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `triad up --json` as a real process; its stdout is one JSON event per line. */
function startUp(config: WrittenConfig): { proc: ChildProcess; events: UpEvent[] } {
  const events: UpEvent[] = [];
  const proc = spawn(process.execPath, [triadBin, 'up', '--json', '--config', config.clusterFile, '--timeout', '30'], {
    env: { ...process.env, TRIAD_DATA_DIR: config.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as UpEvent);
  });
  return { proc, events };
}

describe('triad up', () => {
  let config: WrittenConfig;
  let up: { proc: ChildProcess; events: UpEvent[] };
  const pids: number[] = [];

  beforeAll(async () => {
    config = await writeClusterConfig();
    up = startUp(config);
    await waitFor(() => up.events.some((e) => e.type === 'ready'), 30_000, 'triad up to report the cluster ready');
  });

  afterAll(() => {
    // Belt and braces: whatever a failed assertion left running is killed by PID.
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    if (up?.proc.exitCode === null) up.proc.kill('SIGKILL');
    rmSync(config.dir, { recursive: true, force: true });
  });

  test('starts every node and reports them ready with their endpoints', async () => {
    const ready = up.events.find((e) => e.type === 'ready');
    expect(ready?.nodes?.map((n) => n.instance)).toEqual(['alpha', 'beta', 'gamma']);
    for (const node of ready?.nodes ?? []) {
      pids.push(node.pid);
      expect(isAlive(node.pid)).toBe(true);
    }
    for (const instance of config.instances) expect((await readyOf(instance.http)).ready).toBe(true);
    const status = await runTriad(['status', '--json', '--config', config.clusterFile]);
    expect((JSON.parse(status.stdout) as { nodes: { ready: boolean }[] }).nodes.every((n) => n.ready)).toBe(true);
  });

  test('restarts a crashed node with backoff and logs it', async () => {
    const beta = up.events.find((e) => e.type === 'ready')?.nodes?.find((n) => n.instance === 'beta');
    process.kill(beta!.pid, 'SIGKILL');
    await waitFor(
      () => up.events.some((e) => e.type === 'started' && e.name === 'beta' && e.pid !== beta!.pid),
      10_000,
      'beta to be restarted',
    );
    const exited = up.events.find((e) => e.type === 'exited' && e.name === 'beta');
    expect(exited).toMatchObject({ signal: 'SIGKILL', restartInMs: 500 });
    const restarted = up.events.filter((e) => e.type === 'started' && e.name === 'beta').at(-1);
    pids.push(restarted!.pid!);
    await waitFor(async () => (await readyOf(config.instances[1]!.http)).ready, 10_000, 'beta ready again');
  });

  test('SIGTERM stops every child and exits 0 with no process left behind', async () => {
    const exit = new Promise<number | null>((resolve) => up.proc.once('exit', (code) => resolve(code)));
    up.proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(pids.length).toBeGreaterThanOrEqual(4);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(up.events.at(-1)?.type).toBe('stopped');
  });

  test('refuses to start over a running cluster, naming the busy port', async () => {
    const first = startUp(config);
    await waitFor(() => first.events.some((e) => e.type === 'ready'), 30_000, 'cluster ready');
    for (const n of first.events.find((e) => e.type === 'ready')?.nodes ?? []) pids.push(n.pid);
    try {
      const second = await runTriad(['up', '--config', config.clusterFile], { env: { TRIAD_DATA_DIR: config.dir } });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(
        `[STARTUP_FAILED] ports already in use: 127.0.0.1:${config.instances[0]!.grpcPort} (alpha gRPC)`,
      );
    } finally {
      const exit = new Promise((resolve) => first.proc.once('exit', resolve));
      first.proc.kill('SIGINT');
      await exit;
    }
    expect(pids.filter(isAlive)).toEqual([]);
  });

  test('bad flags are usage errors', async () => {
    const result = await runTriad(['up', '--instances', '4']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--instances must be 3 or 5, received "4"');
  });
});
