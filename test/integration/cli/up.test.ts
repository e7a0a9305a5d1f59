import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { readPostmasterPid } from '../../../src/storage/embedded-files.js';
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
  pgdata?: string;
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
  // Each test starts the cluster it needs; every process any of them started is killed by PID afterwards.
  const started: { config: WrittenConfig; up: { proc: ChildProcess; events: UpEvent[] } }[] = [];
  const nodePids = () =>
    started.flatMap(({ up }) => up.events.filter((e) => e.type === 'started' && e.pid).map((e) => e.pid!));

  async function upAndReady() {
    const config = await writeClusterConfig();
    const up = startUp(config);
    started.push({ config, up });
    await waitFor(() => up.events.some((e) => e.type === 'ready'), 30_000, 'triad up to report the cluster ready');
    return { config, up, ready: up.events.find((e) => e.type === 'ready')! };
  }

  afterEach(async () => {
    for (const { up } of started) {
      if (up.proc.exitCode !== null || up.proc.signalCode !== null) continue;
      // Gracefully: `triad up` stops its nodes and then its embedded PostgreSQL, which a SIGKILL would orphan.
      const exited = new Promise((resolve) => up.proc.once('exit', resolve));
      up.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    }
    // Belt and braces: whatever is still running is killed by PID, the embedded server by its postmaster.pid.
    for (const { up } of started) if (up.proc.exitCode === null && up.proc.signalCode === null) up.proc.kill('SIGKILL');
    for (const pid of nodePids()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    for (const { up } of started) {
      const pgdata = up.events.find((e) => e.type === 'storage')?.pgdata;
      const postmaster = pgdata ? readPostmasterPid(pgdata)?.pid : undefined;
      if (postmaster && isAlive(postmaster)) process.kill(postmaster, 'SIGQUIT');
    }
    for (const { config } of started) rmSync(config.dir, { recursive: true, force: true });
    started.length = 0;
  });

  test('starts every node and reports them ready with their endpoints', async () => {
    const { config, ready } = await upAndReady();
    expect(ready.nodes?.map((n) => n.instance)).toEqual(['alpha', 'beta', 'gamma']);
    for (const node of ready.nodes ?? []) expect(isAlive(node.pid)).toBe(true);
    for (const instance of config.instances) expect((await readyOf(instance.http)).ready).toBe(true);
    const status = await runTriad(['status', '--json', '--config', config.clusterFile]);
    const { nodes } = JSON.parse(status.stdout) as { nodes: { instance: string; ready: boolean }[] };
    expect(nodes.map((n) => [n.instance, n.ready])).toEqual([
      ['alpha', true],
      ['beta', true],
      ['gamma', true],
    ]);
  });

  test('restarts a crashed node with backoff and logs it', async () => {
    const { config, up, ready } = await upAndReady();
    const beta = ready.nodes?.find((n) => n.instance === 'beta');
    process.kill(beta!.pid, 'SIGKILL');
    await waitFor(
      () => up.events.some((e) => e.type === 'started' && e.name === 'beta' && e.pid !== beta!.pid),
      10_000,
      'beta to be restarted',
    );
    const exited = up.events.find((e) => e.type === 'exited' && e.name === 'beta');
    expect(exited).toMatchObject({ signal: 'SIGKILL', restartInMs: 500 });
    const restarted = up.events.filter((e) => e.type === 'started' && e.name === 'beta').at(-1);
    expect(isAlive(restarted!.pid!)).toBe(true);
    await waitFor(async () => (await readyOf(config.instances[1]!.http)).ready, 10_000, 'beta ready again');
  });

  test('SIGTERM stops every child and exits 0 with no process left behind', async () => {
    const { up, ready } = await upAndReady();
    // A restarted child too, so "every child" is more than the first three.
    const gamma = ready.nodes!.find((n) => n.instance === 'gamma')!;
    process.kill(gamma.pid, 'SIGKILL');
    await waitFor(
      () => up.events.some((e) => e.type === 'started' && e.name === 'gamma' && e.pid !== gamma.pid),
      10_000,
      'gamma to be restarted',
    );
    const pids = nodePids();
    expect(pids).toHaveLength(4);
    const exit = new Promise<number | null>((resolve) => up.proc.once('exit', (code) => resolve(code)));
    up.proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(up.events.at(-1)?.type).toBe('stopped');
  });

  test('refuses to start over a running cluster, naming the busy port', async () => {
    const { config, up } = await upAndReady();
    const second = await runTriad(['up', '--config', config.clusterFile], { env: { TRIAD_DATA_DIR: config.dir } });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `[STARTUP_FAILED] ports already in use: 127.0.0.1:${config.instances[0]!.grpcPort} (alpha gRPC)`,
    );
    const exit = new Promise((resolve) => up.proc.once('exit', resolve));
    up.proc.kill('SIGINT');
    await exit;
    expect(nodePids().filter(isAlive)).toEqual([]);
  });

  test('bad flags are usage errors', async () => {
    const result = await runTriad(['up', '--instances', '4']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--instances must be 3 or 5, received "4"');
  });
});
