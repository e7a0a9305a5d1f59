import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { checkMutationOptions, describeMutation, parseMutation } from '../../../src/layer-manager/index.js';
import { fromWireMutation, type MutationRequest } from '../../../src/protocol/index.js';
import { TriadError } from '../../../src/shared/index.js';

const config = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const context = { config, instances: ['alpha', 'beta', 'gamma'] };
const options = { dry_run: false, force: false, reason: '', label: '', timeout_ms: 0, actor: 'ops@host' };

/** What the Admin edge does with a Mutate request before the change is made: decode, check the change, its options. */
function parseRequest(request: MutationRequest, ctx: typeof context) {
  const { input, options: sent } = fromWireMutation(request);
  const mutation = parseMutation(input, ctx);
  return {
    mutation,
    options: checkMutationOptions(mutation, { ...sent, actor: sent.actor ?? '', correlationId: 'c' }),
  };
}

function refusal(request: MutationRequest): { code: string; message: string } {
  try {
    parseRequest(request, context);
  } catch (err) {
    if (err instanceof TriadError) return { code: err.code, message: err.detail };
    throw err;
  }
  throw new Error('expected a refusal');
}

const activate = (layers: string[], instances: string[] = [], percentage = 0): MutationRequest => ({
  command: 'activate',
  activate: { layers, instances, percentage },
  options,
});

test('bad input is refused with what was received and what is allowed', () => {
  expect(refusal(activate(['R7']))).toEqual({
    code: 'INPUT_INVALID',
    message: 'unknown layer "R7" (layers: R1, R2, R3, R4, R5, R6)',
  });
  expect(refusal(activate([]))).toEqual({
    code: 'INPUT_INVALID',
    message: '--layers is empty: name at least one layer, e.g. --layers R1,R2',
  });
  expect(refusal(activate(['R1', 'R1']))).toMatchObject({ message: 'layer R1 is named twice in --layers' });
  expect(refusal(activate(['R1'], ['zeta']))).toEqual({
    code: 'INPUT_INVALID',
    message: 'unknown instance "zeta" (instances: alpha, beta, gamma)',
  });
  expect(refusal(activate(['R1'], [], 150))).toMatchObject({
    message: '--percentage must be a whole number from 1 to 100, received 150',
  });
  expect(refusal({ command: 'rollback', rollback: { to: 'no good!' }, options })).toMatchObject({
    message: '--to-version "no good!" is neither a version number nor a valid label',
  });
  expect(refusal({ command: 'framework', framework: { framework_id: 'R5_NOPE', enabled: false }, options })).toEqual({
    code: 'INPUT_INVALID',
    message: 'unknown framework "R5_NOPE" (frameworks of R5: R5_CROSS_INSTANCE_D1, R5_CROSS_INSTANCE_D2)',
  });
});

test('--force without a reason is a usage error; emergency-disable needs a reason too', () => {
  expect(refusal({ ...activate(['R3']), options: { ...options, force: true } })).toEqual({
    code: 'USAGE',
    message: '--force needs --reason "…": an override is audited with the reason it was made',
  });
  expect(refusal({ command: 'emergency_disable', emergency_disable: {}, options }).code).toBe('USAGE');
});

test('labels must not look like version numbers', () => {
  expect(refusal({ ...activate(['R1']), options: { ...options, label: '42' } }).message).toContain('not only digits');
});

test('a valid request is normalised: layers in order, instances defaulting to all, the command line for history', () => {
  const { mutation, options: parsed } = parseRequest(
    { ...activate(['R2', 'R1'], ['beta'], 10), options: { ...options, label: 'v1.4.0' } },
    context,
  );
  expect(mutation).toEqual({ kind: 'activate', layers: ['R1', 'R2'], instances: ['beta'], percentage: 10 });
  expect(describeMutation(mutation, parsed)).toBe(
    'triad activate-layers --layers R1,R2 --instances beta --percentage 10 --label v1.4.0',
  );
  expect(parseRequest(activate(['R1']), context).mutation).toMatchObject({
    instances: ['alpha', 'beta', 'gamma'],
    percentage: 100,
  });
  expect(parseRequest({ command: 'rollback', rollback: { to: '12' }, options }, context).mutation).toEqual({
    kind: 'rollback',
    to: { version: 12 },
  });
});
