import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyDelivery } from '../../../src/rollouts/index.js';
import { runTriad, TestCluster, triadBin, waitFor } from '../../fixtures/cluster.js';

const webhookKey = 'test-only-webhook-key';

/**
 * Rollout plans on a real demo cluster: three node processes, real PostgreSQL, durations compressed by the demo
 * profile. The plans are short versions of the shipped ones, so the file runs in well under a minute.
 */
describe('rollout plans on a demo cluster', { timeout: 150_000 }, () => {
  let cluster: TestCluster;
  let dir: string;
  const triad = (...args: string[]) => runTriad([...args, '--config', cluster.config.clusterFile]);
  const q = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await cluster.db!.pool.query<T>(sql, params)).rows;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
    return path.join(dir, file);
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo', TRIAD_TEST_WEBHOOK_KEY: webhookKey },
    });
    dir = cluster.config.dir;
    write(
      'analysis/guard.yaml',
      [
        'name: guard',
        'metrics:',
        '  - name: consensus-error',
        '    interval: 1s',
        '    successCondition: result < 0.05',
        '    failureLimit: 3',
        '    inconclusiveLimit: 100',
        '    provider: { triad: { figure: consensus_error } }',
        '  - name: alpha',
        '    interval: 1s',
        '    count: 2',
        '    successCondition: result within 10% of 2.07',
        '    failureLimit: 1',
        '    inconclusiveLimit: 100',
        '    provider: { triad: { figure: amplification, layer: R2 } }',
      ].join('\n'),
    );
    await cluster.waitReady();
    await cluster.waitForEpoch();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  test('a plan runs to completion through an approval; status --timeout exits 3 while it waits, 0 when done', async () => {
    const plan = write(
      'rollouts/short.yaml',
      [
        'name: short',
        'analysis: { templates: [guard] }',
        'steps:',
        '  - activate: { layers: [R1, R2], instances: [alpha] }',
        '  - wait: { for: 1d }',
        '  - activate: { layers: [R1, R2], instances: [beta, gamma] }',
        "  - approve: { note: 'stage 1 go/no-go' }",
        '  - activate: { layers: [R1], percentage: 100 }',
      ].join('\n'),
    );
    const created = await triad('rollout', 'create', '-f', plan, '--json');
    expect(created.code, created.stderr).toBe(0);
    const view = JSON.parse(created.stdout) as { steps: { description: string; detectionBudget?: unknown[] }[] };
    expect(view.steps.map((s) => s.description)).toEqual([
      'activate R1+R2 on alpha',
      'wait 1d (1.7s here)',
      'activate R1+R2 on beta,gamma',
      'approval: stage 1 go/no-go',
      'activate R1 on every instance',
    ]);
    expect(view.steps[0]!.detectionBudget!.length).toBeGreaterThan(0);

    const before = Number(
      (await q<{ v: string }>('SELECT coalesce(max(version), 0) AS v FROM desired_state_versions'))[0]!.v,
    );
    expect((await triad('rollout', 'start', 'short')).code).toBe(0);
    // While the first run is under way, a second start of the same plan is refused.
    const again = await triad('rollout', 'start', 'short');
    expect([again.code, again.stderr]).toEqual([
      2,
      expect.stringMatching(/rollout short #1 is already (running|waiting approval)/),
    ]);

    const waiting = await triad('rollout', 'status', 'short', '--timeout', '45s', '--json');
    expect(waiting.code, waiting.stdout + waiting.stderr).toBe(3);
    expect(JSON.parse(waiting.stdout)).toMatchObject({ status: 'waiting_approval', stepIndex: 3 });
    const noReason = await triad('rollout', 'approve', 'short');
    expect(noReason.code).toBe(2);
    const approved = await triad('rollout', 'approve', 'short', '--reason', 'figures in band');
    expect(approved.code, approved.stderr).toBe(0);
    const done = await triad('rollout', 'status', 'short', '--timeout', '45s', '--json');
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const final = JSON.parse(done.stdout) as {
      status: string;
      steps: { status: string; actor?: string; note?: string }[];
    };
    expect(final.status).toBe('completed');
    expect(final.steps[3]).toMatchObject({ status: 'completed', note: 'approved: figures in band' });

    // Each activate step wrote exactly one version, labelled with the run and step (the idempotency key).
    const versions = await q<{ version: string; label: string | null; created_by: string }>(
      'SELECT version, label, created_by FROM desired_state_versions WHERE version > $1 ORDER BY version',
      [before],
    );
    expect(versions.map((v) => v.label)).toEqual(['rollout-1-0', 'rollout-1-2', 'rollout-1-4']);
    expect(new Set(versions.map((v) => v.created_by))).toEqual(new Set(['triad (rollout short #1)']));
    const audit = await q<{ command: string; reason: string | null }>(
      "SELECT command, reason FROM audit_log WHERE command LIKE 'triad rollout%' ORDER BY id",
    );
    expect(audit.map((a) => a.command)).toEqual([
      `triad rollout create -f ${plan}`,
      'triad rollout start short',
      'triad rollout approve short',
    ]);
    expect(audit[2]!.reason).toBe('figures in band');
    const events = (await q<{ kind: string }>('SELECT kind FROM rollout_events ORDER BY id')).map((e) => e.kind);
    expect(events[0]).toBe('started');
    expect(events.at(-1)).toBe('completed');
    expect(events).toContain('waiting_approval');
  });

  test('a failing check aborts the run and one new version restores the pre-run state on every node', async () => {
    const plan = write(
      'rollouts/faulty.yaml',
      [
        'name: faulty',
        'steps:',
        '  - activate: { layers: [R1, R2] }',
        '  - analysis: { template: guard }',
        '  - activate: { layers: [R3] }',
      ].join('\n'),
    );
    expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
    const pre = await q<{ version: string; state: unknown }>(
      'SELECT version, state FROM desired_state_versions ORDER BY version DESC LIMIT 1',
    );
    // R2 on gamma at half its burden: α there falls to about 1.0, outside 10 % of 2.07.
    expect((await triad('inject-fault', '--instance', 'gamma', '--layer', 'R2', '--burden-scale', '0.5')).code).toBe(0);
    try {
      expect((await triad('rollout', 'start', 'faulty')).code).toBe(0);
      const ended = await triad('rollout', 'status', 'faulty', '--timeout', '50s', '--json');
      expect(ended.code, ended.stdout + ended.stderr).toBe(1);
      const view = JSON.parse(ended.stdout) as {
        status: string;
        stepIndex: number;
        failure: Record<string, unknown>;
        abortVersion: number;
        beforeVersion: number;
      };
      expect(view.status).toBe('aborted');
      // Either the plan's analysis (guard/alpha over its failureLimit) or, when it is quicker, the leader's own
      // rollback trigger taking R2 down on gamma: both abort the run with the failing figure named.
      if (view.failure.check === 'rollback_trigger')
        expect(view.failure.detail).toMatch(/^R2 on gamma was taken down outside the run by v\d+ .*automatic rollback/);
      else {
        expect(view.failure, JSON.stringify(view.failure)).toMatchObject({
          template: 'guard',
          check: 'alpha',
          phase: 'FAIL',
        });
        expect(view.failure.detail).toMatch(/^R2 on gamma: 1\.\d+ \(needs within 10% of 2\.07/);
      }
      // By the label, not the newest version: the leader's own rollback trigger (β of R2 on gamma collapsed under the
      // injected fault) may take R2 down on gamma right after the abort, as a version of its own.
      const after = await q<{ version: string; state: unknown; label: string; reason: string }>(
        "SELECT version, state, label, reason FROM desired_state_versions WHERE label = 'rollout-2-abort'",
      );
      expect(after[0]!.label).toBe('rollout-2-abort');
      const before = await q<{ state: unknown }>('SELECT state FROM desired_state_versions WHERE version = $1', [
        view.beforeVersion,
      ]);
      expect(Number(pre[0]!.version)).toBeLessThanOrEqual(view.beforeVersion);
      expect(after[0]!.state).toEqual(before[0]!.state);
      expect(after[0]!.reason).toMatch(/FAIL guard\/alpha: R2 on gamma|rollback trigger: R2 on gamma/);
      expect(Number(after[0]!.version)).toBe(view.abortVersion);
      await waitFor(
        async () =>
          (
            await q<{ n: number }>('SELECT count(*)::int AS n FROM instance_state WHERE applied_version >= $1', [
              view.abortVersion,
            ])
          )[0]!.n === 3,
        15_000,
        'every node on the abort version',
      );
    } finally {
      await triad('inject-fault', '--instance', 'gamma', '--layer', 'R2', '--clear');
    }
  });

  test('status --timeout: a run still going when it runs out exits 1 with error code TIMEOUT in --json', async () => {
    const plan = write('rollouts/slow.yaml', ['name: slow', 'steps:', '  - wait: { for: 60d }'].join('\n'));
    expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
    expect((await triad('rollout', 'start', 'slow')).code).toBe(0);
    const timedOut = await triad('rollout', 'status', 'slow', '--timeout', '2s', '--json');
    expect(timedOut.code, timedOut.stdout + timedOut.stderr).toBe(1);
    expect(JSON.parse(timedOut.stdout)).toMatchObject({
      status: 'running',
      timedOut: true,
      error: { code: 'TIMEOUT' },
    });
    expect((JSON.parse(timedOut.stdout) as { error: { message: string } }).error.message).toMatch(
      /^timed out after 2s: rollout slow is running/,
    );
    expect(timedOut.stderr).toMatch(/timed out after 2s/);

    // `triad status --watch` with stdout a pipe: plain lines, the running rollout and its step in them; SIGINT exits 0.
    const watcher = spawn(
      process.execPath,
      [triadBin, 'status', '--watch', '--interval', '300ms', '--config', cluster.config.clusterFile],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => watcher.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /rollouts: slow #\d+ running step 1\/1 wait 60d/.test(out), 20_000, 'the watch line');
    } finally {
      watcher.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d cascade .* \| consensus (converged|NOT converged) \| desired v\d+ \| alpha/,
    );
    expect(out).not.toContain('\x1b[');
    const aborted = await triad('rollout', 'abort', 'slow', '--reason', 'test over');
    expect(aborted.code, aborted.stderr).toBe(0);
    const ended = await triad('rollout', 'status', 'slow', '--timeout', '30s', '--json');
    expect([ended.code, (JSON.parse(ended.stdout) as { status: string }).status]).toEqual([1, 'aborted']);
  });

  test('webhooks: a receiver sees every run event signed, in order, the one answered 500 retried', async () => {
    interface Received {
      path: string;
      headers: IncomingMessage['headers'];
      body: string;
      answered: number;
    }
    const received: Received[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        // The very first delivery fails: the leader must retry it before it sends the run's next event.
        const answered = received.length === 0 ? 500 : 200;
        received.push({ path: req.url ?? '', headers: req.headers, body, answered });
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const plan = write(
        'rollouts/hooked.yaml',
        [
          'name: hooked',
          'notifications:',
          `  - { url: 'http://127.0.0.1:${port}/hook', secret_env: TRIAD_TEST_WEBHOOK_KEY }`,
          `  - { url: 'http://127.0.0.1:${port}/slack', format: slack }`,
          'steps:',
          '  - wait: { for: 1h }',
          "  - approve: { note: 'go/no-go' }",
        ].join('\n'),
      );
      expect((await triad('rollout', 'create', '-f', plan)).code).toBe(0);
      expect((await triad('rollout', 'start', 'hooked')).code).toBe(0);
      const waiting = await triad('rollout', 'status', 'hooked', '--timeout', '30s', '--json');
      expect(waiting.code, waiting.stdout).toBe(3);
      expect((await triad('rollout', 'approve', 'hooked', '--reason', 'looks good')).code).toBe(0);
      const hook = () => received.filter((r) => r.path === '/hook');
      await waitFor(
        () => hook().some((r) => r.answered === 200 && (JSON.parse(r.body) as { event: string }).event === 'completed'),
        20_000,
        'the completed event at the receiver',
      );

      const first = hook()[0]!;
      expect(first.answered).toBe(500);
      const delivered = hook().filter((r) => r.answered === 200);
      // The failed one again first, then the rest, in the order they happened.
      expect(delivered[0]!.headers['x-triad-delivery']).toBe(first.headers['x-triad-delivery']);
      const bodies = delivered.map((r) => JSON.parse(r.body) as { event: string; event_id: number; plan: string });
      expect(bodies.map((b) => b.event)).toEqual([
        'started',
        'step_completed',
        'waiting_approval',
        'step_completed',
        'completed',
      ]);
      const ids = bodies.map((b) => b.event_id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(new Set(bodies.map((b) => b.plan))).toEqual(new Set(['hooked']));
      for (const r of hook()) {
        expect(r.headers['x-triad-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
        const headers = {
          signature: r.headers['x-triad-signature'] as string,
          timestamp: r.headers['x-triad-timestamp'] as string,
        };
        expect(verifyDelivery(webhookKey, r.body, headers, Date.now())).toBe(true);
        // A changed body or another key does not verify; nor does the same delivery replayed an hour later.
        expect(verifyDelivery(webhookKey, r.body.replace('hooked', 'hacked'), headers, Date.now())).toBe(false);
        expect(verifyDelivery('another-key', r.body, headers, Date.now())).toBe(false);
        expect(verifyDelivery(webhookKey, r.body, headers, Date.now() + 3_600_000)).toBe(false);
      }
      // The Slack-format URL got the same events as Slack incoming-webhook bodies (unsigned: no secret_env).
      await waitFor(() => received.filter((r) => r.path === '/slack').length >= 5, 10_000, 'five Slack deliveries');
      const texts = received
        .filter((r) => r.path === '/slack')
        .map((r) => JSON.parse(r.body) as { text: string; triad: { event: string } });
      expect(texts.map((t) => t.triad.event)).toEqual(bodies.map((b) => b.event));
      expect(texts[0]!.text).toMatch(/^triad rollout hooked #\d+: started/);
      expect(received.filter((r) => r.path === '/slack')[0]!.headers['x-triad-signature']).toBeUndefined();

      // The delivery log: the first event's failed attempt and its successful retry.
      const log = await q<{ attempt: number; status: number; delivered: boolean; error: string | null }>(
        'SELECT attempt, status, delivered, error FROM rollout_webhook_deliveries WHERE event_id = $1 AND url LIKE $2 ORDER BY id',
        [Number(first.headers['x-triad-delivery']), '%/hook'],
      );
      expect(log).toEqual([
        { attempt: 1, status: 500, delivered: false, error: 'answered 500' },
        { attempt: 2, status: 200, delivered: true, error: null },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
