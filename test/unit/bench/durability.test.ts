import { describe, expect, test } from 'vitest';
import { describeVerdict, durabilityVerdict, exitCodeOf } from '../../../bench/durability.js';

const ids = ['0b6c…-a', '0b6c…-b', '0b6c…-c', '0b6c…-d'];

describe("the ingest benchmark's durability verdict", () => {
  test('every acknowledged id stored exactly once is right', () => {
    const verdict = durabilityVerdict(ids, [...ids].reverse());
    expect(verdict).toMatchObject({ right: true, acknowledged: 4, storedRows: 4, missing: 0, doubled: 0 });
    expect(describeVerdict(verdict)).toBe(
      'durable: every acknowledged operation stored exactly once (4 acknowledged, 4 rows stored for them, 0 missing, 0 doubled)',
    );
  });

  test('one acknowledged id without its row is wrong, and names it', () => {
    const verdict = durabilityVerdict(ids, ids.slice(0, 3));
    expect(verdict).toMatchObject({ right: false, missing: 1, doubled: 0, examples: { missing: ['0b6c…-d'] } });
    expect(describeVerdict(verdict)).toBe(
      'NOT DURABLE (4 acknowledged, 3 rows stored for them, 1 missing, 0 doubled; missing e.g. 0b6c…-d)',
    );
  });

  test('an acknowledged id stored twice is wrong, even when the row count matches another loss', () => {
    expect(durabilityVerdict(ids, [...ids, ids[1]!])).toMatchObject({ right: false, doubled: 1, missing: 0 });
    // As many rows as acknowledgements, yet one lost and one doubled: a bare count would have called this right.
    const verdict = durabilityVerdict(ids, [ids[0]!, ids[1]!, ids[2]!, ids[2]!]);
    expect(verdict).toMatchObject({ right: false, storedRows: 4, missing: 1, doubled: 1 });
  });

  test('nothing acknowledged and nothing stored is right; an id acknowledged twice is not', () => {
    expect(durabilityVerdict([], []).right).toBe(true);
    expect(durabilityVerdict([ids[0]!, ids[0]!], [ids[0]!])).toMatchObject({ right: false, acknowledgedTwice: 1 });
  });

  test('rows of calls that failed after their commit are counted, not held against the run', () => {
    expect(durabilityVerdict(ids.slice(0, 2), ids)).toMatchObject({ right: true, unacknowledged: 2 });
  });
});

describe('the exit code of `npm run bench -- ingest`', () => {
  const right = durabilityVerdict(ids, ids);
  const lost = durabilityVerdict(ids, ids.slice(1));

  test('0 when every run is right, however slow: a missed speed goal is reported, not an exit code', () => {
    expect(exitCodeOf([{ durability: right, failures: 0, opsPerSecond: 10 }])).toBe(0);
  });

  test('1 when any run lost a row or had a failed call', () => {
    expect(
      exitCodeOf([
        { durability: right, failures: 0 },
        { durability: lost, failures: 0 },
      ]),
    ).toBe(1);
    expect(exitCodeOf([{ durability: right, failures: 1 }])).toBe(1);
  });
});
