import protobuf from 'protobufjs';
import { describe, expect, test } from 'vitest';
import {
  boundedDeserializer,
  maxMessageBytes,
  maxRepeated,
  messageBoundOf,
  requestProblem,
  textProblem,
} from '../../../src/edges/index.js';
import { TriadError } from '../../../src/shared/index.js';

/** Encoded RecordOperations with `n` operations of one short field each (field 1, then the operation's field 2). */
function encodedBatch(n: number): Buffer {
  const writer = protobuf.Writer.create();
  for (let i = 0; i < n; i++)
    writer
      .uint32((1 << 3) | 2)
      .fork()
      .uint32((2 << 3) | 2)
      .string('R1_X')
      .ldelim();
  return Buffer.from(writer.finish());
}

/** What the bounds interceptor would answer for a deserialized value: the marker's error, if it is one. */
function refusalOf(value: unknown): TriadError | undefined {
  const symbols = value && typeof value === 'object' ? Object.getOwnPropertySymbols(value) : [];
  const error = symbols.length === 1 ? (value as Record<symbol, unknown>)[symbols[0]!] : undefined;
  return error instanceof TriadError ? error : undefined;
}

describe('boundedDeserializer', () => {
  const decodeCount = { calls: 0 };
  const decode = (bytes: Buffer) => {
    decodeCount.calls++;
    return { bytes: bytes.length };
  };

  test('a request within its method bound is decoded', () => {
    const deserialize = boundedDeserializer('/triad.v1.Ingest/RecordOperations', decode);
    expect(deserialize(encodedBatch(5_000))).toEqual({ bytes: encodedBatch(5_000).length });
  });

  test('5,001 operations are refused on the bytes, before decoding, naming the field and the bound', () => {
    const before = decodeCount.calls;
    const deserialize = boundedDeserializer('/triad.v1.Ingest/RecordOperations', decode);
    const error = refusalOf(deserialize(encodedBatch(5_001)));
    expect(error?.code).toBe('INPUT_INVALID');
    expect(error?.detail).toBe('operations has 5001 items, at most 5000 are allowed per call: split the batch');
    expect(decodeCount.calls).toBe(before);
  });

  test("a message over its method's size is RESOURCE_EXHAUSTED, however small the server-wide limit thinks it is", () => {
    const deserialize = boundedDeserializer('/triad.v1.Node/GetState', decode);
    const bound = messageBoundOf('/triad.v1.Node/GetState').maxBytes;
    expect(bound).toBeLessThan(maxMessageBytes);
    const error = refusalOf(deserialize(Buffer.alloc(bound + 1)));
    expect(error?.code).toBe('RESOURCE_EXHAUSTED');
    expect(error?.detail).toBe(
      `/triad.v1.Node/GetState: the request is ${bound + 1} bytes (decompressed), at most ${bound} are accepted`,
    );
  });

  test('bytes that are not protobuf are INPUT_INVALID, not INTERNAL', () => {
    const deserialize = boundedDeserializer('/triad.v1.Ingest/RecordOperations', decode);
    // Field 1, length-delimited, claiming 100 bytes that are not there.
    expect(refusalOf(deserialize(Buffer.from([0x0a, 0x64, 0x01])))?.code).toBe('INPUT_INVALID');
    const throwing = boundedDeserializer('/triad.v1.Admin/History', () => {
      throw new Error('index out of range');
    });
    expect(refusalOf(throwing(Buffer.from([0xff])))?.detail).toBe(
      '/triad.v1.Admin/History: the request is not valid protobuf (index out of range)',
    );
  });
});

describe('requestProblem', () => {
  test('a NUL or any control character in any string field is named with its path and position', () => {
    expect(requestProblem({ options: { reason: 'ok\u0000' } })).toBe(
      'options.reason: control character U+0000 at position 2 (not allowed in any text field)',
    );
    expect(requestProblem({ layers: ['R1', 'R\u0085'] })).toBe(
      'layers[1]: control character U+0085 at position 1 (not allowed in any text field)',
    );
  });

  test('strings are bounded per field, and by default', () => {
    expect(textProblem('reason', 'x'.repeat(1_000))).toBeUndefined();
    expect(textProblem('reason', 'x'.repeat(1_001))).toBe('1001 characters, at most 1000 are allowed');
    expect(textProblem('framework_id', 'x'.repeat(257))).toBe('257 characters, at most 256 are allowed');
    expect(textProblem('trace_id', 'a b')).toBe(`"a b" has characters outside letters, digits, ".", "_", ":" and "-"`);
    expect(textProblem('reason', 'Émilie rolled back: R5 ≥ 4.0 ✓')).toBeUndefined();
  });

  test('repeated fields are bounded; operations are left to the ingest validator, item by item', () => {
    expect(requestProblem({ instances: new Array(maxRepeated + 1).fill('a') })).toBe(
      `instances: ${maxRepeated + 1} items, at most ${maxRepeated} are allowed`,
    );
    expect(requestProblem({ operations: new Array(maxRepeated + 1).fill({}) })).toBeUndefined();
    expect(
      requestProblem({ operations: [{ framework_id: 'R1_\u0000', burden_saved_hours: Number.NaN }] }),
    ).toBeUndefined();
  });

  test('numbers must be finite', () => {
    expect(requestProblem({ value: [1, Number.POSITIVE_INFINITY] })).toBe(
      'value[1]: expected a finite number, received Infinity',
    );
    expect(requestProblem({ round: { value: [Number.NaN] } })).toBe(
      'round.value[0]: expected a finite number, received NaN',
    );
    expect(requestProblem({ round: { value: [1e308, -1e308] } })).toBeUndefined();
  });

  test('deep nesting is refused', () => {
    let message: Record<string, unknown> = {};
    for (let i = 0; i < 12; i++) message = { inner: message };
    expect(requestProblem(message)).toMatch(/nested more than 8 levels deep$/);
  });
});
