import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parsePlan, templatesNamed, type SourceFile } from '../../../src/rollouts/index.js';

const root = path.resolve(import.meta.dirname, '../../..');
const read = (file: string): SourceFile => ({ file, text: readFileSync(path.join(root, file), 'utf8') });
const templates = readdirSync(path.join(root, 'config/analysis')).map((f) => read(`config/analysis/${f}`));
const members = ['alpha', 'beta', 'gamma'];

describe('rollout plans', () => {
  test('the shipped cascade plan follows the operations plan stage by stage', () => {
    const plan = parsePlan(read('config/rollouts/cascade.yaml'), templates, members);
    expect(plan.background).toEqual(['success-criteria', 'rollback-triggers']);
    const activations = plan.steps.flatMap((s) =>
      s.kind === 'activate' ? [`${s.layers.join('+')}@${s.instances?.join(',')}`] : [],
    );
    expect(activations).toEqual([
      'R1+R2@alpha',
      'R1+R2@beta',
      'R1+R2@gamma',
      'R3@alpha',
      'R3@beta',
      'R3@gamma',
      'R4@alpha',
      'R5@alpha',
      'R4+R5@beta,gamma',
      'R6@alpha',
      'R6@beta,gamma',
    ]);
    expect(plan.steps.filter((s) => s.kind === 'approve')).toHaveLength(3);
    const waits = plan.steps.flatMap((s) => (s.kind === 'wait' ? [s.forMs / 86_400_000] : []));
    expect(waits).toEqual([2, 2, 7, 2, 2, 14, 7, 2, 21, 7, 7]);
    const criteria = plan.templates['success-criteria']!.metrics.map((m) => `${m.name}: ${m.successCondition}`);
    expect(criteria).toEqual([
      'alpha: result within 10% of 2.07',
      'beta: result within 15% of 3.28',
      'gamma: result within 20% of 2.20',
      'delta: result within 25% of 4.95',
      'epsilon: result within 30% of 5.81',
      'error-rate: result < 0.01',
      'consensus-error: result < 0.01',
    ]);
  });

  test('the canary plan goes 10 %, approval, 25 %, 100 %', () => {
    const plan = parsePlan(read('config/rollouts/canary-10-25.yaml'), templates, members);
    const steps = plan.steps.map((s) =>
      s.kind === 'activate' ? `activate ${s.layers.join()} ${s.percentage}` : s.kind,
    );
    expect(steps).toEqual([
      'activate R1 100',
      'activate R2 10',
      'wait',
      'analysis',
      'approve',
      'activate R2 25',
      'wait',
      'activate R2 100',
    ]);
    expect(templatesNamed(read('config/rollouts/canary-10-25.yaml'))).toEqual(['canary']);
  });

  test('mistakes are reported with file:line:col and the field', () => {
    const text = [
      'name: broken',
      'steps:',
      '  - activate: { layers: [R7] }',
      '  - wait: { for: 2 days }',
      '  - analysis: { template: nowhere }',
      '  - { pause: {}, wait: { for: 1d } }',
    ].join('\n');
    expect(() => parsePlan({ file: 'plan.yaml', text }, templates, members)).toThrowError(
      /plan\.yaml:3:\d+: steps\.0\.activate\.layers\.0: expected one of R1, R2, R3, R4, R5, R6[\s\S]*plan\.yaml:4:\d+: steps\.1\.wait\.for: expected a duration[\s\S]*plan\.yaml:6:\d+: steps\.3: each step is exactly one of/,
    );
    expect(() =>
      parsePlan({ file: 'p.yaml', text: 'name: p\nsteps:\n  - analysis: { template: nowhere }\n' }, templates, members),
    ).toThrowError(/p\.yaml: steps\.0\.analysis\.template: no analysis template "nowhere"/);
    expect(() =>
      parsePlan(
        { file: 'p.yaml', text: 'name: p\nsteps:\n  - activate: { layers: [R1], instances: [delta] }\n' },
        [],
        members,
      ),
    ).toThrowError(/unknown instance "delta" \(instances: alpha, beta, gamma\)/);
  });

  test('a template with a bad condition or two providers is refused where it is wrong', () => {
    const text = [
      'name: t',
      'metrics:',
      '  - name: a',
      '    successCondition: result is fine',
      '    provider: { triad: { figure: consensus_error } }',
      '  - name: b',
      '    successCondition: result < 1',
      '    provider: { triad: { figure: consensus_error }, prometheus: { address: "http://x", query: up } }',
    ].join('\n');
    expect(() =>
      parsePlan({ file: 'p.yaml', text: 'name: p\nsteps:\n  - pause: {}\n' }, [{ file: 't.yaml', text }], members),
    ).toThrowError(
      /t\.yaml:4:23: metrics\.0\.successCondition: cannot read condition "result is fine"[\s\S]*t\.yaml:8:\d+: metrics\.1\.provider: name exactly one provider/,
    );
  });
});
