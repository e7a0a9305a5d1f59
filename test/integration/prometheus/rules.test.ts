import { execFile } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../../fixtures/cluster.js';
import { demoRuleFiles } from '../../fixtures/prometheus.js';
import { promtoolHint, requireCommand } from '../../fixtures/services.js';

interface Run {
  code: number;
  output: string;
}

/** promtool from the repository root (the paths in its output and in the test files are relative to it). */
function promtool(args: readonly string[]): Promise<Run> {
  const binary = requireCommand('promtool', promtoolHint);
  return new Promise((resolve) => {
    execFile(binary, args, { cwd: repoRoot, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

const ymlIn = (dir: string) =>
  readdirSync(path.join(repoRoot, dir))
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => `${dir}/${f}`);

const ruleFiles = ymlIn('prometheus/rules');
const testFiles = ymlIn('prometheus/tests');

describe('promtool on prometheus/', () => {
  const demo = demoRuleFiles();
  afterAll(() => rmSync(demo.dir, { recursive: true, force: true }));

  test('the rule files and test files are where the other checks expect them', () => {
    expect(ruleFiles).toEqual(['prometheus/rules/triad-alerts.yml', 'prometheus/rules/triad-recording.yml']);
    expect(testFiles.length).toBeGreaterThanOrEqual(4);
  });

  test('check rules: every rule file is valid and lint-clean', async () => {
    const run = await promtool(['check', 'rules', ...ruleFiles]);
    expect(run.output).not.toContain('FAILED');
    expect(run.code, run.output).toBe(0);
    for (const file of ruleFiles) expect(run.output).toContain(`Checking ${file}`);
  });

  test('test rules: every promtool unit test passes', async () => {
    const run = await promtool(['test', 'rules', ...testFiles]);
    expect(run.code, run.output).toBe(0);
    for (const file of testFiles) expect(run.output).toContain(`Unit Testing:  ${file}`);
    expect(run.output.match(/SUCCESS/g)).toHaveLength(testFiles.length);
  });

  test('check config: prometheus.yml with its rule files', async () => {
    const run = await promtool(['check', 'config', 'prometheus/prometheus.yml']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('SUCCESS: 2 rule files found');
  });

  test('the demo-compressed copy passes check rules and check config', async () => {
    const rules = await promtool(['check', 'rules', ...demo.ruleFiles]);
    expect(rules.code, rules.output).toBe(0);
    for (const file of demo.ruleFiles) expect(rules.output).toContain(`Checking ${file}`);
    const config = await promtool(['check', 'config', demo.configFile]);
    expect(config.code, config.output).toBe(0);
    expect(config.output).toContain('SUCCESS: 2 rule files found');
  });
});
