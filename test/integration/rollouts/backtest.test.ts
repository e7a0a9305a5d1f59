import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BacktestResult } from '../../../src/rollouts/index.js';
import { consensusMeasurementStore, type ConsensusMeasurementRow } from '../../../src/storage/index.js';
import { runTriad } from '../../fixtures/cluster.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/postgres.js';

/**
 * `triad rollout backtest` through the built CLI against a real PostgreSQL seeded with a day of epochs and operations:
 * R3's amplification collapses at 14:00, so a plan whose analysis starts after that would abort at that step.
 */
const members = ['alpha', 'beta', 'gamma'];
const minute = 60_000;
const start = Date.parse('2025-05-01T12:00:00Z');
const collapse = Date.parse('2025-05-01T14:00:00Z');
const end = Date.parse('2025-05-01T16:00:00Z');

let db: TestDatabase;
let dir: string;
let planFile: string;

const env = { DATABASE_URL: '', TRIAD_PROFILE: 'production' };

beforeAll(async () => {
  db = await createTestDatabase();
  const rows: ConsensusMeasurementRow[] = [];
  for (let at = start; at < end; at += minute) {
    const agreed: Record<string, number> = {};
    for (const layer of ['R1', 'R2', 'R3']) {
      agreed[`${layer}.reporting`] = 1;
      agreed[`${layer}.settled`] = 1;
      agreed[`${layer}.samples`] = 300 / members.length;
      agreed[`${layer}.error_rate`] = 0.002;
      agreed[`${layer}.amplification`] = layer === 'R3' && at >= collapse ? 1.4 : 2.3;
    }
    rows.push({
      epoch_id: `e-${at}`,
      topology: 'complete',
      members,
      unreachable: [],
      error: 0.0005,
      converged: true,
      rounds: 12,
      duration_ms: 40,
      lambda2: 3,
      agreed,
      measured_at: new Date(at),
    });
  }
  await consensusMeasurementStore.insert(db.pool, rows);
  // Ten operations a minute on alpha's R3, one in ten failed.
  await db.pool.query(
    `INSERT INTO operation_history (operation_id, framework_id, layer, instance, started_at, duration_ms,
       burden_saved_hours, success, source)
     SELECT gen_random_uuid(), 'fw', 'R3', 'alpha', t, 10, 0.1, (n % 10) <> 0, 'synthetic'
       FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') AS t,
            generate_series(1, 10) AS n`,
    [new Date(start), new Date(end)],
  );
  dir = mkdtempSync(path.join(tmpdir(), 'triad-backtest-'));
  mkdirSync(path.join(dir, 'analysis'));
  mkdirSync(path.join(dir, 'rollouts'));
  writeFileSync(
    path.join(dir, 'analysis', 'r3.yaml'),
    `name: r3
metrics:
  - name: beta
    interval: 10m
    count: 3
    successCondition: result >= 2.0
    provider: { triad: { figure: amplification, layer: R3 } }
`,
  );
  planFile = path.join(dir, 'rollouts', 'stage.yaml');
  writeFileSync(
    planFile,
    `name: stage
steps:
  - activate: { layers: [R3], instances: [alpha] }
  - wait: { for: 30m }
  - approve: { note: alpha looks fine }
  - analysis: { template: r3 }
`,
  );
}, 60_000);

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const backtest = (fromIso: string, toIso: string, file = planFile) =>
  runTriad(['rollout', 'backtest', '-f', file, '--from', fromIso, '--to', toIso, '--database-url', db.url, '--json'], {
    env,
  });

describe('triad rollout backtest on stored history', () => {
  test('before the collapse the plan would pass; the report has every step, its values and operations', async () => {
    const r = await backtest('2025-05-01T12:00:00Z', '2025-05-01T13:30:00Z');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as BacktestResult;
    expect(out.outcome).toBe('pass');
    // wait 30m, then 3 measurements 10 min apart: +30, +40, +50 min.
    expect(out.endedAt).toBe(start + 50 * minute);
    expect(out.steps.map((s) => s.outcome)).toEqual(['applied', 'passed', 'assumed', 'passed']);
    const analysis = out.steps[3]!;
    expect(analysis.measurements.map((m) => [m.phase, m.value])).toEqual([
      ['PASS', 2.3],
      ['PASS', 2.3],
      ['PASS', 2.3],
    ]);
    // The wait step spans 12:00–12:30 inclusive: 31 one-minute buckets of 10 operations, one failed in each.
    expect(out.steps[1]!.operations).toEqual({ total: 310, failed: 31 });
  });

  test('across the collapse it would abort at the analysis step with the measured value (exit 1)', async () => {
    const r = await backtest('2025-05-01T13:20:00Z', '2025-05-01T16:00:00Z');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as BacktestResult;
    expect(out.outcome).toBe('abort');
    expect(out.stop).toMatchObject({ step: 4, template: 'r3', check: 'beta', phase: 'FAIL', value: 1.4 });
    // The analysis starts at 13:50 (PASS), measures again at 14:00: the first reading after the collapse.
    expect(out.endedAt).toBe(collapse);
  });

  test('a window too short for the plan is "not enough history" (exit 3); human output says what was assumed', async () => {
    const r = await runTriad(
      [
        'rollout',
        'backtest',
        '-f',
        planFile,
        '--from',
        '2025-05-01T12:00:00Z',
        '--to',
        '2025-05-01T12:20:00Z',
        '--database-url',
        db.url,
      ],
      { env },
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/not enough history: step 2 \(wait 30m\) runs past T2/);
    expect(r.stdout).toMatch(/approvals are taken as granted at once/);
  });

  test('bad input exits 2 with a stable code: a plan mistake at file:line:col, a bad time', async () => {
    const bad = path.join(dir, 'rollouts', 'bad.yaml');
    writeFileSync(bad, 'name: bad\nsteps:\n  - wait: { for: soon }\n');
    const plan = await backtest('2025-05-01T12:00:00Z', '2025-05-01T13:00:00Z', bad);
    expect(plan.code).toBe(2);
    expect(plan.stdout + plan.stderr).toMatch(/bad\.yaml:3:\d+: steps\.0\.wait\.for/);
    expect(plan.stdout + plan.stderr).toMatch(/CONFIG_INVALID/);
    const time = await backtest('last tuesday', '2025-05-01T13:00:00Z');
    expect(time.code).toBe(2);
    expect(time.stdout + time.stderr).toMatch(/USAGE/);
    expect(time.stdout + time.stderr).toMatch(/--from expects an ISO 8601 time/);
  });
});
