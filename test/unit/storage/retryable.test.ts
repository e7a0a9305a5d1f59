import { describe, expect, test } from 'vitest';
import { TriadError } from '../../../src/shared/index.js';
import { describeTarget, lockKey, lockKeys, retryable } from '../../../src/storage/index.js';
import { unreachable } from '../../../src/storage/pool.js';

const withCode = (code: string) => Object.assign(new Error('boom'), { code });

describe('retryable', () => {
  test.each([
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['55P03', 'lock_not_available'],
    ['53300', 'too_many_connections'],
    ['57P01', 'admin_shutdown'],
    ['57P03', 'cannot_connect_now'],
    ['08006', 'connection_failure (class 08)'],
    ['08P01', 'protocol_violation (class 08)'],
  ])('SQLSTATE %s (%s) is retried', (code) => {
    expect(retryable(withCode(code))).toBe(true);
  });

  test.each([
    ['23505', 'unique_violation'],
    ['42P01', 'undefined_table'],
    ['42601', 'syntax_error'],
    ['28P01', 'invalid_password'],
    ['3D000', 'invalid_catalog_name'],
    ['57014', 'query_canceled (statement_timeout: running it again would time out again)'],
  ])('SQLSTATE %s (%s) is not', (code) => {
    expect(retryable(withCode(code))).toBe(false);
  });

  test.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN'])(
    'socket error %s is retried (EPIPE is five capitals but no SQLSTATE)',
    (code) => {
      expect(retryable(withCode(code))).toBe(true);
    },
  );

  test('the message is never read: a non-retryable code with a retryable-sounding message stays non-retryable', () => {
    expect(retryable(Object.assign(new Error('deadlock detected; connection reset'), { code: '23505' }))).toBe(false);
    expect(retryable(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(retryable('ECONNRESET')).toBe(false);
    expect(retryable(undefined)).toBe(false);
  });

  test('looks through cause chains: STORAGE_UNAVAILABLE is retried unless its cause says otherwise', () => {
    expect(retryable(unreachable('db:5432/triad', withCode('ECONNREFUSED')))).toBe(true);
    expect(retryable(unreachable('db:5432/triad', new Error('timeout exceeded when trying to connect')))).toBe(true);
    expect(retryable(unreachable('db:5432/triad', withCode('28P01')))).toBe(false);
    expect(retryable(new TriadError('INTERNAL', 'wrapped', { cause: withCode('40001') }))).toBe(true);
    expect(retryable(new TriadError('USAGE', 'bad flag'))).toBe(false);
  });
});

describe('describeTarget', () => {
  test('names host:port/db and never the user or password', () => {
    expect(describeTarget('postgres://triad:hunter2@db.internal:6543/prod?sslmode=require')).toBe(
      'db.internal:6543/prod',
    );
    expect(describeTarget('postgres://127.0.0.1/triad')).toBe('127.0.0.1:5432/triad');
    expect(describeTarget('postgresql://u@h')).toBe('h:5432/(default database)');
    expect(describeTarget('not a url with hunter2')).toBe('(unparsable database URL)');
  });

  test('a connection failure message carries the target and the reason, not the password', () => {
    const err = unreachable(describeTarget('postgres://triad:hunter2@db:5432/prod'), withCode('ECONNREFUSED'));
    expect(err.message).toBe('[STORAGE_UNAVAILABLE] cannot reach PostgreSQL at db:5432/prod: boom');
    expect(err.code).toBe('STORAGE_UNAVAILABLE');
  });
});

describe('lockKey', () => {
  test('is a stable signed 64-bit integer per name, pinned (other processes and releases must agree)', () => {
    expect(lockKeys).toEqual({
      clusterDeployment: '-233841823554916376',
      leader: '1514484475410156255',
      migrations: '7872390862294030753',
      auditLog: '9131517316982805296',
    });
    expect(lockKey('triad:leader')).toBe(lockKeys.leader);
    const all = Object.values(lockKeys).map(BigInt);
    expect(new Set(all).size).toBe(all.length);
    for (const key of all) {
      expect(key >= -(2n ** 63n) && key < 2n ** 63n).toBe(true);
    }
  });
});
