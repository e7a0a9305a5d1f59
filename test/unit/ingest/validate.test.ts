import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseLayersConfig } from '../../../src/config/index.js';
import { ingestRules, validateOperations as validateDomain, type ItemVerdict } from '../../../src/ingest/index.js';
import { fromWireOperation, type WireOperation } from '../../../src/protocol/index.js';
import { TriadError } from '../../../src/shared/index.js';

const layers = parseLayersConfig(
  readFileSync(fileURLToPath(new URL('../../../config/layers.yaml', import.meta.url)), 'utf8'),
  'layers.yaml',
);
const rules = ingestRules(layers, ['alpha', 'beta', 'gamma']);
const now = Date.UTC(2026, 0, 1);
const minted = '00000000-0000-4000-8000-000000000000';
const context = { nowMs: now, callTraceId: 'call-trace-1', newOperationId: () => minted };

/** Items as a client sends them, through the Ingest edge's decoding, then the check. */
const validateOperations = (
  items: readonly Partial<WireOperation>[],
  ...rest: Parameters<typeof validateDomain> extends [unknown, ...infer Rest] ? Rest : never
) => validateDomain(items.map(fromWireOperation), ...rest);

function item(over: Partial<WireOperation> = {}): WireOperation {
  return {
    operation_id: '6f1c2a4e-8b0d-4c3e-9a7f-2d5b8e1f0a93',
    framework_id: 'R3_TRIGGER_DETECTION',
    layer: 'R3',
    instance: 'beta',
    started_at_ms: now - 60_000,
    duration_ms: 120.5,
    burden_saved_hours: 1.5,
    success: true,
    error_type: '',
    trace_id: '',
    ...over,
  };
}

function verdict(over: Partial<WireOperation>): ItemVerdict {
  return validateOperations([item(over)], rules, context)[0]!;
}

function reason(over: Partial<WireOperation>): string {
  const v = verdict(over);
  if (v.accepted) throw new Error(`expected a refusal for ${JSON.stringify(over)}`);
  return v.reason;
}

function batchRefusal(items: WireOperation[]): TriadError {
  try {
    validateOperations(items, rules, context);
  } catch (err) {
    if (err instanceof TriadError) return err;
    throw err;
  }
  throw new Error('expected the batch to be refused');
}

describe('a good item', () => {
  test('becomes an ingest record with every column filled', () => {
    expect(verdict({ trace_id: 'abc123' })).toEqual({
      index: 0,
      accepted: true,
      record: {
        operationId: '6f1c2a4e-8b0d-4c3e-9a7f-2d5b8e1f0a93',
        frameworkId: 'R3_TRIGGER_DETECTION',
        layer: 'R3',
        instance: 'beta',
        startedAt: now - 60_000,
        durationMs: 120.5,
        burdenSavedHours: 1.5,
        success: true,
        errorType: null,
        traceId: 'abc123',
        source: 'ingest',
        cohort: null,
      },
    });
  });

  test('without an operation_id gets a minted one; an upper-case uuid is stored lower-case', () => {
    expect(verdict({ operation_id: '' })).toMatchObject({ accepted: true, record: { operationId: minted } });
    expect(verdict({ operation_id: '6F1C2A4E-8B0D-4C3E-9A7F-2D5B8E1F0A93' })).toMatchObject({
      record: { operationId: '6f1c2a4e-8b0d-4c3e-9a7f-2d5b8e1f0a93' },
    });
  });

  test("without a trace_id carries the call's; without a layer takes the framework's", () => {
    expect(verdict({ trace_id: '', layer: '' })).toMatchObject({
      accepted: true,
      record: { traceId: 'call-trace-1', layer: 'R3' },
    });
    const noCallTrace = validateOperations([item()], rules, { ...context, callTraceId: null })[0];
    expect(noCallTrace).toMatchObject({ record: { traceId: null } });
  });

  test('a failure carries its error type; the bounds themselves are allowed', () => {
    expect(verdict({ success: false, error_type: 'timeout' })).toMatchObject({
      accepted: true,
      record: { success: false, errorType: 'timeout' },
    });
    expect(verdict({ started_at_ms: now + 5 * 60_000 }).accepted).toBe(true);
    expect(verdict({ started_at_ms: now - 30 * 86_400_000 }).accepted).toBe(true);
    expect(verdict({ burden_saved_hours: 10_000, duration_ms: 0 }).accepted).toBe(true);
    expect(verdict({ trace_id: '1-5759e988-bd862e3fe1be46a994272793' }).accepted).toBe(true);
  });
});

describe('a bad item is refused with what, where, what was received and what is allowed', () => {
  test('numbers: NaN, infinities and negatives', () => {
    expect(reason({ burden_saved_hours: Number.NaN })).toMatchInlineSnapshot(
      `"operations[0].burden_saved_hours: expected a finite number ≥ 0, received NaN"`,
    );
    expect(reason({ burden_saved_hours: -0.5 })).toMatchInlineSnapshot(
      `"operations[0].burden_saved_hours: expected a finite number ≥ 0, received -0.5"`,
    );
    expect(reason({ duration_ms: Number.POSITIVE_INFINITY })).toMatchInlineSnapshot(
      `"operations[0].duration_ms: expected a finite number ≥ 0, received Infinity"`,
    );
    expect(reason({ duration_ms: Number.NEGATIVE_INFINITY })).toMatchInlineSnapshot(
      `"operations[0].duration_ms: expected a finite number ≥ 0, received -Infinity"`,
    );
    expect(reason({ duration_ms: -1 })).toMatchInlineSnapshot(
      `"operations[0].duration_ms: expected a finite number ≥ 0, received -1"`,
    );
    expect(reason({ burden_saved_hours: 10_000.5 })).toMatchInlineSnapshot(
      `"operations[0].burden_saved_hours: expected at most 10000 hours for one operation, received 10000.5 (minutes or seconds sent as hours?)"`,
    );
  });

  test('framework, layer and instance', () => {
    expect(reason({ framework_id: 'R9_NOPE', layer: '' })).toMatchInlineSnapshot(
      `"operations[0].framework_id: unknown framework "R9_NOPE" (frameworks: R1_SOVEREIGNTY_MEASUREMENT, R1_BASELINE_BURDEN_TRACKING, R2_CONSENT_AUTO_RESOLVER, R2_TRIGGER_FRAMEWORK_BUILDER, R3_TRIGGER_DETECTION, R3_AUTO_COMPOSITION, R4_HIERARCHICAL_COMPOSITION, R4_FEEDBACK_COMPOSITION, R5_CROSS_INSTANCE_D1, R5_CROSS_INSTANCE_D2, R6_STRATEGIC_ORCHESTRATION)"`,
    );
    expect(reason({ framework_id: '' })).toMatchInlineSnapshot(
      `"operations[0].framework_id: required (a framework id from layers.yaml, e.g. R1_SOVEREIGNTY_MEASUREMENT)"`,
    );
    expect(reason({ layer: 'R2' })).toMatchInlineSnapshot(
      `"operations[0].layer: framework R3_TRIGGER_DETECTION belongs to R3, received R2"`,
    );
    expect(reason({ layer: 'R7' })).toMatchInlineSnapshot(
      `"operations[0].layer: unknown layer "R7" (layers: R1, R2, R3, R4, R5, R6)"`,
    );
    expect(reason({ instance: 'zeta' })).toMatchInlineSnapshot(
      `"operations[0].instance: unknown instance "zeta" (instances: alpha, beta, gamma)"`,
    );
    expect(reason({ instance: '' })).toMatchInlineSnapshot(
      `"operations[0].instance: required (instances: alpha, beta, gamma)"`,
    );
  });

  test('start time: missing, ahead of the clock, beyond retention', () => {
    expect(reason({ started_at_ms: 0 })).toMatchInlineSnapshot(
      `"operations[0].started_at_ms: required (ms since the Unix epoch when the operation started)"`,
    );
    expect(reason({ started_at_ms: now + 5 * 60_000 + 1 })).toMatchInlineSnapshot(
      `"operations[0].started_at_ms: 2026-01-01T00:05:00.001Z is ahead of this node's clock (2026-01-01T00:00:00.000Z) by more than the 5m of clock skew allowed"`,
    );
    expect(reason({ started_at_ms: now + 3 * 3_600_000 })).toMatchInlineSnapshot(
      `"operations[0].started_at_ms: 2026-01-01T03:00:00.000Z is ahead of this node's clock (2026-01-01T00:00:00.000Z) by more than the 5m of clock skew allowed"`,
    );
    expect(reason({ started_at_ms: now - 30 * 86_400_000 - 1 })).toMatchInlineSnapshot(
      `"operations[0].started_at_ms: 2025-12-01T23:59:59.999Z is more than 30d before this node's clock (2026-01-01T00:00:00.000Z): older operations are past retention"`,
    );
  });

  test('ids: operation_id must be a uuid, trace_id short and plain', () => {
    expect(reason({ operation_id: 'op-17' })).toMatchInlineSnapshot(
      `"operations[0].operation_id: expected a UUID (8-4-4-4-12 hex digits), received "op-17""`,
    );
    expect(reason({ operation_id: `${'x'.repeat(100)}` })).toMatchInlineSnapshot(
      `"operations[0].operation_id: expected a UUID (8-4-4-4-12 hex digits), received "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…""`,
    );
    expect(reason({ trace_id: 'has space' })).toMatchInlineSnapshot(
      `"operations[0].trace_id: expected letters, digits and . _ : - only, received "has space""`,
    );
    expect(reason({ trace_id: 'a'.repeat(65) })).toMatchInlineSnapshot(
      `"operations[0].trace_id: expected at most 64 characters, received 65"`,
    );
  });

  test('success and error_type must agree', () => {
    expect(reason({ success: false, error_type: '' })).toMatchInlineSnapshot(
      `"operations[0].error_type: required when success is false (one of timeout, dependency, validation, internal, injected)"`,
    );
    expect(reason({ success: false, error_type: 'boom' })).toMatchInlineSnapshot(
      `"operations[0].error_type: unknown error type "boom" (one of timeout, dependency, validation, internal, injected)"`,
    );
    expect(reason({ success: true, error_type: 'timeout' })).toMatchInlineSnapshot(
      `"operations[0].error_type: must be empty when success is true, received "timeout""`,
    );
  });

  test('every problem of an item is listed, and the bad id is not echoed as its operation_id', () => {
    const v = verdict({ operation_id: 'nope', instance: 'zeta', duration_ms: Number.NaN });
    expect(v).toMatchInlineSnapshot(`
      {
        "accepted": false,
        "index": 0,
        "operationId": "",
        "reason": "operations[0].operation_id: expected a UUID (8-4-4-4-12 hex digits), received "nope"; operations[0].instance: unknown instance "zeta" (instances: alpha, beta, gamma); operations[0].duration_ms: expected a finite number ≥ 0, received NaN",
      }
    `);
  });
});

describe('a batch', () => {
  test('is judged item by item, in order, with positions in the reasons', () => {
    const verdicts = validateOperations(
      [
        item({ operation_id: '' }),
        item({ operation_id: '', burden_saved_hours: Number.NaN }),
        item({ operation_id: '' }),
      ],
      rules,
      context,
    );
    expect(verdicts.map((v) => [v.index, v.accepted])).toEqual([
      [0, true],
      [1, false],
      [2, true],
    ]);
    expect(verdicts[1]).toMatchObject({
      reason: 'operations[1].burden_saved_hours: expected a finite number ≥ 0, received NaN',
    });
  });

  test('sending one operation_id twice refuses the second', () => {
    const id = '6f1c2a4e-8b0d-4c3e-9a7f-2d5b8e1f0a93';
    const verdicts = validateOperations(
      [item({ operation_id: id }), item({ operation_id: id.toUpperCase() })],
      rules,
      context,
    );
    expect(verdicts[0]!.accepted).toBe(true);
    expect(verdicts[1]).toMatchInlineSnapshot(`
      {
        "accepted": false,
        "index": 1,
        "operationId": "6f1c2a4e-8b0d-4c3e-9a7f-2d5b8e1f0a93",
        "reason": "operations[1].operation_id: 6f1c2a4e-8b0d-4c3e-9a7f-2d5b8e1f0a93 is also the id of operations[0]: each needs its own",
      }
    `);
  });

  test('empty, or over 5,000 items, is refused whole with INPUT_INVALID (exit 2)', () => {
    const empty = batchRefusal([]);
    expect([empty.code, empty.exitCode, empty.message]).toMatchInlineSnapshot(`
      [
        "INPUT_INVALID",
        2,
        "[INPUT_INVALID] operations is empty: send 1 to 5000 operations per call",
      ]
    `);
    const many = Array.from({ length: 5_001 }, () => item({ operation_id: '' }));
    const oversized = batchRefusal(many);
    expect([oversized.code, oversized.message]).toMatchInlineSnapshot(`
      [
        "INPUT_INVALID",
        "[INPUT_INVALID] operations has 5001 items, at most 5000 are allowed per call: split the batch",
      ]
    `);
    expect(validateOperations(many.slice(0, 5_000), rules, context)).toHaveLength(5_000);
  });
});

test('burden is accepted exactly when it is a finite number from 0 to 10,000 hours', () => {
  fc.assert(
    fc.property(fc.double(), (burden) => {
      const accepted = verdict({ burden_saved_hours: burden }).accepted;
      expect(accepted).toBe(Number.isFinite(burden) && burden >= 0 && burden <= 10_000);
    }),
  );
});
