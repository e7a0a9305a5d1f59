import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sessionCookie, signToken } from '../../../src/console/index.js';
import { cliCertificateEnv } from '../../fixtures/grpc.js';
import { repoRoot, runTriad, TestCluster } from '../../fixtures/cluster.js';

// Screenshots of every page, for people to look at; git-ignored, never asserted on.
const artifacts = path.join(repoRoot, 'test-artifacts', 'console');
const chromiumPath = '/usr/bin/chromium';

describe('the operator console in a real browser', () => {
  let cluster: TestCluster;
  const contexts: BrowserContext[] = [];
  const profiles: string[] = [];
  let base: string;
  const triad = (args: string[], env: Record<string, string> = {}) =>
    runTriad([...args, '--config', cluster.config.clusterFile], { env });

  /** A fresh Chromium profile per context (nothing shared between the viewer's and the operator's browser). */
  const browser = async (): Promise<BrowserContext> => {
    const profile = mkdtempSync(path.join(tmpdir(), 'triad-chromium-'));
    profiles.push(profile);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    contexts.push(context);
    return context;
  };
  const login = async (role: 'viewer' | 'operator'): Promise<string> => {
    const env = role === 'viewer' ? cliCertificateEnv(cluster.instance('alpha').grpc, 'viewer') : {};
    const result = await triad(
      ['console', 'login', '--role', role, '--ttl', '30m', '--json', '--target', cluster.instance('alpha').grpc],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { url: string }).url;
  };
  const signIn = async (role: 'viewer' | 'operator'): Promise<Page> => {
    const page = (await browser()).pages()[0] ?? (await contexts.at(-1)!.newPage());
    await page.goto(await login(role));
    expect(new URL(page.url()).pathname).toBe('/console/');
    await page.getByTestId('total-cascade').waitFor();
    return page;
  };

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    // Synthetic traffic on the demo profile (short windows) so a cell's health checks have measured figures to show.
    cluster = await TestCluster.start({
      extraYaml:
        'synthetic:\n  enabled: true\n  interval: 250ms\nruntime:\n  demo_window: 4s\nconsensus:\n  demo_interval: 500ms\n',
      env: { TRIAD_PROFILE: 'demo' },
    });
    base = `http://localhost:${cluster.instance('alpha').httpPort}`;
    await cluster.waitReady();
    await cluster.waitForEpoch();
    const r = await triad(['activate-layers', '--layers', 'R1,R2', '--reason', 'console test setup', '--json']);
    expect(r.code, r.stderr).toBe(0);
  }, 90_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
    await cluster?.stop();
  });

  test('no request without a session reaches data: the API answers 401, pages and assets go to sign-in', async () => {
    for (const name of [
      'session',
      'overview',
      'matrix',
      'consensus',
      'history',
      'diff?from=0&to=1',
      'audit',
      'alerts',
      'events',
      'gates?layer=R1&instance=alpha',
      'rollouts',
      'rollout?name=cascade',
    ]) {
      const res = await fetch(`${base}/console/api/${name}`);
      expect(res.status, name).toBe(401);
      expect(await res.text()).not.toMatch(/R1|alpha|version/);
    }
    for (const action of ['mutate', 'rollout']) {
      const post = await fetch(`${base}/console/api/${action}`, { method: 'POST', body: '{}' });
      expect(post.status, action).toBe(401);
    }
    for (const page of ['/console/', '/console', '/console/assets/app.js', '/console/nothing']) {
      const res = await fetch(`${base}${page}`, { redirect: 'manual' });
      expect(res.status, page).toBe(303);
      expect(res.headers.get('location')).toBe('/console/login?reason=signin');
    }
    const signInPage = await fetch(`${base}/console/login`);
    expect(signInPage.status).toBe(200);
    expect(await signInPage.text()).toContain('triad console login');
    // The node's own endpoints are as they were.
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  test('a viewer sees the overview with the live figures and no mutating control; a forged POST is refused', async () => {
    const page = await signIn('viewer');
    await expect.poll(() => page.getByTestId('health').textContent()).toMatch(/healthy/);
    const overview = (await (await page.request.get(`${base}/console/api/overview`)).json()) as {
      desiredVersion: number;
      consensusError: number;
    };
    await expect.poll(() => page.getByTestId('consensus-error').textContent()).not.toBe('—');
    expect(await page.getByText(`desired version v${overview.desiredVersion}`).count()).toBe(1);
    expect(await page.getByTestId('layers').locator('tbody tr').count()).toBe(6);
    await page.screenshot({ path: path.join(artifacts, 'viewer-overview.png'), fullPage: true });
    expect(await page.locator('.mutate').count()).toBe(0);

    await page.goto(`${base}/console/#matrix`);
    await page.getByTestId('cell-R1-alpha').click();
    await page.getByTestId('gate-checks').waitFor();
    expect(await page.locator('.mutate').count()).toBe(0);
    await page.screenshot({ path: path.join(artifacts, 'viewer-matrix.png'), fullPage: true });
    for (const name of ['consensus', 'rollouts', 'history', 'alerts']) {
      await page.goto(`${base}/console/#${name}`);
      await page.locator(`[data-page="${name}"]`).waitFor();
      expect(await page.locator('.mutate').count(), name).toBe(0);
      await page.screenshot({ path: path.join(artifacts, `viewer-${name}.png`), fullPage: true });
    }

    // Forged from inside the viewer's own signed-in page, with its valid CSRF token: the role still refuses it.
    const forged = await page.evaluate(async () => {
      const session = (await (await fetch('/console/api/session')).json()) as { csrf: string };
      const send = (headers: Record<string, string>) =>
        fetch('/console/api/mutate', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ mutation: { kind: 'emergency_disable' }, reason: 'viewer tries' }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { message: string } } }));
      return { withCsrf: await send({ 'x-triad-csrf': session.csrf }), withoutCsrf: await send({}) };
    });
    expect(forged.withCsrf.status).toBe(403);
    expect(forged.withCsrf.body.error.message).toMatch(/operator session; this one is viewer/);
    expect(forged.withoutCsrf.status).toBe(403);
    expect(forged.withoutCsrf.body.error.message).toMatch(/CSRF/);
    const history = JSON.parse((await triad(['history', '--json'])).stdout) as { versions: { created_by: string }[] };
    expect(history.versions.every((v) => !v.created_by.startsWith('console:'))).toBe(true);
  }, 60_000);

  test('a sign-in URL works once', async () => {
    const url = await login('viewer');
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(303);
    const again = await fetch(url, { redirect: 'manual' });
    expect(again.status).toBe(401);
    expect(await again.text()).toContain('already used');
  });

  test("an active cell's panel shows its last health checks: measured values, thresholds, samples, verdicts", async () => {
    const page = await signIn('viewer');
    await page.goto(`${base}/console/#matrix`);
    await page.getByTestId('cell-R2-gamma').click();
    const checks = page.getByTestId('health-checks');
    await checks.waitFor();
    // The page redraws after each epoch; wait until gamma's own R2 window has figures to judge.
    // A row's innerText separates its cells with tabs.
    const rows = async () => (await checks.locator('tbody tr').allInnerTexts()).map((row) => row.split('\t'));
    await expect
      .poll(rows, { timeout: 30_000, interval: 250 })
      .toContainEqual([
        'amplification',
        expect.stringMatching(/^(PASS|WARN|FAIL)$/),
        expect.stringMatching(/^\d+\.\d{2}$/),
        '1.85–2.3 (FAIL below 1.85)',
        expect.stringMatching(/^[1-9]\d*$/),
      ]);
    const shown = await rows();
    expect(shown.map((r) => r[0])).toEqual(['samples', 'settled', 'amplification', 'error_rate']);
    expect(shown[0]).toEqual([
      'samples',
      'PASS',
      expect.stringMatching(/^\d+$/),
      expect.stringMatching(/^≥ \d+ operations$/),
      shown[0]![2],
    ]);
    expect(shown[3]).toEqual([
      'error_rate',
      expect.stringMatching(/^(PASS|WARN|FAIL)$/),
      expect.stringMatching(/^\d+\.\d{2}%$/),
      '< 1% (FAIL above 5%)',
      shown[0]![2],
    ]);
    expect(await page.getByTestId('cell-panel').textContent()).toMatch(
      /health checks \(check-health, last epoch \d{4}-/,
    );
    // The dry run of activating it there is still shown below.
    await page.getByTestId('gate-checks').waitFor();
    await page.screenshot({ path: path.join(artifacts, 'viewer-cell-health.png'), fullPage: true });

    const unknown = await page.request.get(`${base}/console/api/gates?layer=R9&instance=gamma`);
    expect(unknown.status()).toBe(400);
    const refused = ((await unknown.json()) as { error: { code: string; message: string } }).error;
    expect(refused.code).toBe('INPUT_INVALID');
    expect(refused.message).toMatch(/unknown layer "R9"/);

    // An inactive cell has no health checks, only the dry run's gate checks.
    await page.getByTestId('cell-R3-gamma').click();
    await page.getByTestId('health-checks-none').waitFor();
    expect(await page.getByTestId('gate-checks').locator('tbody tr').count()).toBeGreaterThan(0);
  });

  test('a viewer certificate cannot mint an operator session', async () => {
    const env = cliCertificateEnv(cluster.instance('alpha').grpc, 'viewer');
    const result = await triad(
      ['console', 'login', '--role', 'operator', '--target', cluster.instance('alpha').grpc],
      env,
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/PERMISSION_DENIED.*operator console session needs an operator certificate/);
  });

  test('an operator deactivates a layer from the matrix and triad history names the operator; a CLI change shows within a second', async () => {
    const page = await signIn('operator');
    await page.goto(`${base}/console/#matrix`);
    await page.getByTestId('cell-R2-alpha').click();
    await page.getByTestId('reason').fill('console test: R2 off on alpha');
    await page.screenshot({ path: path.join(artifacts, 'operator-matrix.png'), fullPage: true });
    await page.getByTestId('deactivate').click();
    await expect
      .poll(() => page.getByTestId('action-result').textContent(), { timeout: 30_000 })
      .toMatch(/→ v\d+, applied/);
    const history = JSON.parse((await triad(['history', '--limit', '1', '--json'])).stdout) as {
      versions: { created_by: string; reason: string; command: string }[];
    };
    expect(history.versions[0]).toMatchObject({
      created_by: 'console:operator/local',
      reason: 'console test: R2 off on alpha',
    });
    expect(history.versions[0]!.command).toMatch(/deactivate-layers --layers R2 --instances alpha/);
    await expect.poll(() => page.getByTestId('cell-R2-alpha').textContent()).toMatch(/^off/);

    // A change from the CLI, on the page the operator has open, within a second of the CLI returning.
    expect(await page.getByTestId('cell-R1-beta').textContent()).toMatch(/^on/);
    const cli = await triad([
      'deactivate-layers',
      '--layers',
      'R1',
      '--instances',
      'beta',
      '--cascade',
      '--reason',
      'from the CLI',
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const returned = Date.now();
    await expect
      .poll(() => page.getByTestId('cell-R1-beta').textContent(), { timeout: 1_000, interval: 20 })
      .toMatch(/^off/);
    const shownAfterMs = Date.now() - returned;
    console.log(`console: CLI change shown ${shownAfterMs} ms after the CLI returned`);
    expect(await page.locator('#live').getAttribute('data-state')).toBe('live');
    await page.screenshot({ path: path.join(artifacts, 'operator-matrix-after-cli.png'), fullPage: true });
    await page.goto(`${base}/console/#history`);
    await page.getByTestId('history').waitFor();
    expect(await page.getByTestId('history').textContent()).toContain('console:operator/local');
    await page.screenshot({ path: path.join(artifacts, 'operator-history.png'), fullPage: true });
  }, 90_000);

  test('an expired session is sent back to sign-in', async () => {
    // A correctly signed session token (the node's own key, beside its certificates) whose time is over.
    const key = Buffer.from(
      readFileSync(path.join(cluster.config.certsDir!, 'console', 'alpha.key'), 'utf8').trim(),
      'base64',
    );
    const past = Date.now() - 1_000;
    const token = signToken(key, {
      kind: 'session',
      role: 'operator',
      name: 'local',
      id: 'expired-test',
      sessionExpiresAtMs: past,
      expiresAtMs: past,
    });
    const context = await browser();
    const page = context.pages()[0] ?? (await context.newPage());
    // Sent as a header: Chromium will not let a test plant a __Host- cookie by hand, but the node sees the same thing.
    await page.setExtraHTTPHeaders({ cookie: `${sessionCookie}=${token}` });
    await page.goto(`${base}/console/#overview`);
    const landed = new URL(page.url());
    expect(landed.pathname + landed.search).toBe('/console/login?reason=expired');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/session has expired/);
    await page.screenshot({ path: path.join(artifacts, 'expired-sign-in.png'), fullPage: true });
    const api = await page.request.get(`${base}/console/api/overview`);
    expect(api.status()).toBe(401);
  }, 30_000);
});
