import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { anchorOf, parseAnchor } from '../../../src/storage/index.js';

const key = createSecretKey(randomBytes(32));
const head = { rows: 12, legacyRows: 2, id: 14, hash: 'ab'.repeat(32) };
const at = new Date('2026-12-01T00:00:00.000Z');

describe('audit anchors', () => {
  test('round-trip; a file of many anchors yields its last line', () => {
    const older = anchorOf(key, { ...head, rows: 5, id: 5 }, at);
    const newer = anchorOf(key, head, at);
    expect(parseAnchor(key, `${older}\n${newer}\n\n`, 'f')).toEqual({
      rows: 12,
      legacyRows: 2,
      headId: 14,
      headHash: head.hash,
      at: '2026-12-01T00:00:00.000Z',
    });
  });

  test('an edited anchor, one made with another key, or anything else is INPUT_INVALID naming the source', () => {
    const line = anchorOf(key, head, at);
    expect(() => parseAnchor(key, line.replace('"rows":12', '"rows":13'), '--anchor a.log')).toThrow(
      '[INPUT_INVALID] --anchor a.log: the anchor does not verify with the audit key (edited, or another key)',
    );
    expect(() => parseAnchor(createSecretKey(randomBytes(32)), line, 'f')).toThrow('does not verify');
    expect(() => parseAnchor(key, '', 'f')).toThrow('[INPUT_INVALID] f: no anchor in the file');
    expect(() => parseAnchor(key, 'hello', 'f')).toThrow('the last line is not JSON');
    expect(() => parseAnchor(key, '{"format":"x"}', 'f')).toThrow('not a triad-audit-anchor/1 anchor');
  });
});
