import { describe, expect, test } from 'vitest';
import { parseClusterConfig } from '../../../src/config/index.js';
import { expiredPartitions, retentionPolicy } from '../../../src/operations/index.js';
import { ConfigError } from '../../../src/shared/index.js';

const file = 'config/cluster.yaml';
const base = `cluster:
  name: t
instances:
  - name: alpha
    grpc_port: 50051
    http_port: 9464
`;
const day = 86_400_000;

function parse(retention: string) {
  return parseClusterConfig(`${base}retention:\n${retention}`, { displayPath: file });
}

function messageOf(retention: string): string {
  try {
    parse(retention);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('retention settings in cluster.yaml', () => {
  test('absent: the plan’s 90 days of operations, a year of audit, hourly', () => {
    const config = parseClusterConfig(base, { displayPath: file });
    expect(config.retention).toEqual({ operationsDays: 90, auditDays: 365, intervalMs: 3_600_000 });
  });

  test('set: used as written, and the leader’s policy follows it', () => {
    const config = parse('  operations_days: 30\n  audit_days: 730\n  interval: 15m\n');
    expect(config.retention).toEqual({ operationsDays: 30, auditDays: 730, intervalMs: 900_000 });
    const policy = retentionPolicy(config.retention);
    expect(policy.operationsMs).toBe(30 * day);
    expect(policy.intervalMs).toBe(900_000);
    // With 30 days, a partition whose day ended 31 days ago goes; one that ended 29 days ago stays.
    const now = Date.UTC(2025, 5, 30, 12);
    expect(
      expiredPartitions(['operation_history_p20250529', 'operation_history_p20250531'], now, policy.operationsMs),
    ).toEqual(['operation_history_p20250529']);
  });

  test('out of bounds: a clear error at the field', () => {
    expect(messageOf('  operations_days: 3\n')).toMatch(/retention\.operations_days.*>=\s*7/);
    expect(messageOf('  operations_days: 90.5\n')).toMatch(/retention\.operations_days: expected whole days/);
    expect(messageOf('  audit_days: 90\n')).toMatch(/retention\.audit_days: expected at least 365/);
    expect(messageOf('  interval: 10s\n')).toMatch(/retention\.interval: expected an interval within \[1m, 24h\]/);
    expect(messageOf('  interval: 2d\n')).toMatch(/retention\.interval: expected an interval within \[1m, 24h\]/);
    expect(messageOf('  keep_forever: true\n')).toMatch(/Unrecognized key: "keep_forever"/);
  });
});
