import { describe, expect, test } from 'vitest';
import { parseClusterConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/shared/index.js';

const file = 'config/cluster.yaml';
const valid = `instances:
  - { name: alpha, grpc_port: 50051, http_port: 9464 }
  - { name: beta, grpc_port: 50052, http_port: 9465 }
`;
const parse = (extra: string) => parseClusterConfig(`${valid}${extra}`, { displayPath: file }).consensus;

function messageOf(extra: string): string {
  try {
    parse(extra);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('consensus input bounds in cluster.yaml', () => {
  test('defaults: 5s skew, 1000 rounds, 4 epochs at once, 64 mailbox epochs for 60s, W-MSR off with 60 rounds', () => {
    expect(parse('')).toMatchObject({
      maxClockSkewMs: 5_000,
      maxRounds: 1_000,
      maxConcurrentEpochs: 4,
      mailbox: { maxEpochs: 64, ttlMs: 60_000 },
      resilience: { f: 0, rounds: 60 },
    });
  });

  test('every key is read', () => {
    const yaml =
      'consensus:\n  max_clock_skew: 2s\n  max_rounds: 200\n  max_concurrent_epochs: 2\n' +
      '  mailbox: { max_epochs: 16, ttl: 30s }\n  resilience: { f: 1, rounds: 80 }\n';
    expect(parse(yaml)).toMatchObject({
      maxClockSkewMs: 2_000,
      maxRounds: 200,
      maxConcurrentEpochs: 2,
      mailbox: { maxEpochs: 16, ttlMs: 30_000 },
      resilience: { f: 1, rounds: 80 },
    });
  });

  test.each([
    ['max_clock_skew: 1h', 'consensus.max_clock_skew', 'at most 10m'],
    ['max_rounds: 20000', 'consensus.max_rounds', '10000'],
    ['max_rounds: -1', 'consensus.max_rounds', '1'],
    ['max_concurrent_epochs: 0', 'consensus.max_concurrent_epochs', '1'],
    ['mailbox: { max_epochs: 100000 }', 'consensus.mailbox.max_epochs', '4096'],
    ['mailbox: { ttl: 2h }', 'consensus.mailbox.ttl', 'at most 1h'],
    ['resilience: { f: 9 }', 'consensus.resilience.f', '3'],
    ['resilience: { f: 0.5 }', 'consensus.resilience.f', 'int'],
    ['resilience: { g: 1 }', 'consensus.resilience', 'g'],
  ])('%s is refused, naming the key', (line, key, bound) => {
    const message = messageOf(`consensus:\n  ${line}\n`);
    expect(message).toContain(key);
    expect(message).toContain(bound);
  });
});
