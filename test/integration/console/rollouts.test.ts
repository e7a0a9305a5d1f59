import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cliCertificateEnv } from '../../fixtures/grpc.js';
import { repoRoot, runTriad, TestCluster } from '../../fixtures/cluster.js';

// Screenshots for people to look at; git-ignored, never asserted on.
const artifacts = path.join(repoRoot, 'test-artifacts', 'console');
const chromiumPath = '/usr/bin/chromium';
const plan = 'console-demo';

/**
 * The console's Rollouts page on a real demo cluster (three node processes, PostgreSQL, durations compressed): a plan
 * started from the CLI waits for approval on the page, an operator approves it there with a reason, the run completes
 * and the rollout's own record and the audit chain name the console operator. A viewer sees no control and is refused.
 */
describe('the console Rollouts page in a real browser', { timeout: 150_000 }, () => {
  let cluster: TestCluster;
  let base: string;
  const contexts: BrowserContext[] = [];
  const profiles: string[] = [];
  const triad = (args: string[], env: Record<string, string> = {}) =>
    runTriad([...args, '--config', cluster.config.clusterFile], { env });

  const signIn = async (role: 'viewer' | 'operator'): Promise<Page> => {
    const env = role === 'viewer' ? cliCertificateEnv(cluster.instance('alpha').grpc, 'viewer') : {};
    const login = await triad(
      ['console', 'login', '--role', role, '--ttl', '30m', '--json', '--target', cluster.instance('alpha').grpc],
      env,
    );
    expect(login.code, login.stderr).toBe(0);
    const profile = mkdtempSync(path.join(tmpdir(), 'triad-chromium-'));
    profiles.push(profile);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync', '--no-first-run'],
    });
    contexts.push(context);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto((JSON.parse(login.stdout) as { url: string }).url);
    expect(new URL(page.url()).pathname).toBe('/console/');
    await page.goto(`${base}/console/#rollouts`);
    await page.locator('[data-page="rollouts"]').waitFor();
    return page;
  };

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    base = `http://localhost:${cluster.instance('alpha').httpPort}`;
    const dir = cluster.config.dir;
    mkdirSync(path.join(dir, 'analysis'), { recursive: true });
    mkdirSync(path.join(dir, 'rollouts'), { recursive: true });
    writeFileSync(
      path.join(dir, 'analysis', 'guard.yaml'),
      [
        'name: guard',
        'metrics:',
        '  - name: consensus-error',
        '    interval: 1s',
        '    successCondition: result < 0.05',
        '    failureLimit: 3',
        '    inconclusiveLimit: 1000',
        '    provider: { triad: { figure: consensus_error } }',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'rollouts', `${plan}.yaml`),
      [
        `name: ${plan}`,
        'analysis: { templates: [guard] }',
        'steps:',
        '  - activate: { layers: [R1], instances: [alpha] }',
        "  - approve: { note: 'R1 on alpha looks right' }",
      ].join('\n'),
    );
    await cluster.waitReady();
    await cluster.waitForEpoch();
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
    await cluster?.stop();
  });

  test('a run started from the CLI waits for approval on the page; the operator approves it there; a viewer cannot', async () => {
    const operator = await signIn('operator');
    // Open before anything exists: what follows reaches the page through the live stream, not a reload.
    await expect.poll(() => operator.getByTestId('rollouts').textContent()).toMatch(/No rollout plans yet/);

    const created = await triad(['rollout', 'create', '-f', path.join(cluster.config.dir, 'rollouts', `${plan}.yaml`)]);
    expect(created.code, created.stderr).toBe(0);
    const started = await triad(['rollout', 'start', plan]);
    expect(started.code, started.stderr).toBe(0);

    const waiting = operator.getByTestId(`rollout-${plan}-waiting`);
    await expect.poll(() => waiting.getAttribute('data-kind'), { timeout: 60_000 }).toBe('approval');
    expect(await waiting.textContent()).toMatch(/approval of step 2: approval: R1 on alpha looks right/);
    const steps = operator.getByTestId(`rollout-${plan}-steps`).locator('tbody tr');
    expect(await steps.count()).toBe(2);
    expect(await steps.nth(0).textContent()).toMatch(/activate.*activate R1 on alpha.*completed/);
    expect(await steps.nth(1).textContent()).toMatch(/approve.*waiting_approval/);
    // Analysis ran while the run went: the guard's measurements are on the page, over time.
    await expect
      .poll(() => operator.getByTestId('rollout-analysis').textContent(), { timeout: 30_000 })
      .toMatch(/guard\/consensus-error/);
    expect(await operator.locator('.mark').count()).toBeGreaterThan(0);
    expect(await operator.getByTestId(`rollout-${plan}-approve`).count()).toBe(1);
    expect(await operator.getByTestId(`rollout-${plan}-promote`).count()).toBe(0);
    await operator.screenshot({ path: path.join(artifacts, 'operator-rollouts-waiting.png'), fullPage: true });

    // The viewer: the same run, no control; a POST forged from its own page with its valid CSRF token is refused.
    const viewer = await signIn('viewer');
    await expect
      .poll(() => viewer.getByTestId(`rollout-${plan}-waiting`).getAttribute('data-kind'), { timeout: 10_000 })
      .toBe('approval');
    expect(await viewer.locator('.mutate').count()).toBe(0);
    expect(await viewer.getByTestId(`rollout-${plan}-approve`).count()).toBe(0);
    await viewer.screenshot({ path: path.join(artifacts, 'viewer-rollouts-waiting.png'), fullPage: true });
    const forged = await viewer.evaluate(async (name) => {
      const session = (await (await fetch('/console/api/session')).json()) as { csrf: string };
      const res = await fetch('/console/api/rollout', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-triad-csrf': session.csrf },
        body: JSON.stringify({ plan: name, action: 'approve', reason: 'viewer tries' }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
    }, plan);
    expect(forged.status).toBe(403);
    expect(forged.body.error).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(forged.body.error.message).toMatch(/operator session; this one is viewer/);
    const still = JSON.parse((await triad(['rollout', 'status', plan, '--json'])).stdout) as { status: string };
    expect(still.status).toBe('waiting_approval');

    // Without a reason the operator is refused with a clear error and the run does not move.
    await operator.getByTestId(`rollout-${plan}-approve`).click();
    await expect
      .poll(() => operator.getByTestId(`rollout-${plan}-result`).textContent())
      .toMatch(/INPUT_INVALID: a reason is required/);
    expect((JSON.parse((await triad(['rollout', 'status', plan, '--json'])).stdout) as { status: string }).status).toBe(
      'waiting_approval',
    );

    await operator.getByTestId(`rollout-${plan}-reason`).fill('console test: R1 on alpha looks right');
    await operator.getByTestId(`rollout-${plan}-approve`).click();
    const done = await triad(['rollout', 'status', plan, '--timeout', '45s', '--json']);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    await expect
      .poll(() => operator.getByTestId(`rollout-${plan}-waiting`).textContent(), { timeout: 10_000 })
      .toMatch(/completed/);
    await expect.poll(() => viewer.getByTestId(`rollout-${plan}-waiting`).textContent()).toMatch(/completed/);
    expect(await operator.getByTestId(`rollout-${plan}-approve`).count()).toBe(0);
    await operator.screenshot({ path: path.join(artifacts, 'operator-rollouts-completed.png'), fullPage: true });

    const history = await triad(['rollout', 'history', plan, '--json']);
    expect(history.code, history.stderr).toBe(0);
    const record = JSON.parse(history.stdout) as {
      runs: { status: string; steps: { kind: string; status: string; actor?: string; note?: string }[] }[];
      events: { kind: string; message: string }[];
    };
    expect(record.runs[0]!.status).toBe('completed');
    expect(record.runs[0]!.steps[1]).toMatchObject({
      kind: 'approve',
      status: 'completed',
      actor: 'console:operator/local',
      note: 'approved: console test: R1 on alpha looks right',
    });
    expect(record.events.map((e) => e.message).join('\n')).toMatch(/completed by console:operator\/local/);
    const audit = await cluster.db!.pool.query<{ actor: string; reason: string }>(
      'SELECT actor, reason FROM audit_log WHERE command = $1',
      [`triad rollout approve ${plan}`],
    );
    expect(audit.rows).toEqual([{ actor: 'console:operator/local', reason: 'console test: R1 on alpha looks right' }]);
  });
});
