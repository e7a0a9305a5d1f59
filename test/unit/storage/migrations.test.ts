import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  migrationChecksum,
  parseMigrationFileName,
  planMigrations,
  readMigrations,
  type MigrationFile,
} from '../../../src/storage/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'triad-migrations-unit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const file = (version: number, name: string, sql = `-- ${name}\n`): MigrationFile => ({
  version,
  file: name,
  sql,
  checksum: migrationChecksum(sql),
});

describe('migration files', () => {
  test('names are NNN_words.sql; the number is the version', () => {
    expect(parseMigrationFileName('001_initial.sql')).toEqual({ version: 1 });
    expect(parseMigrationFileName('0420_add_index.sql')).toEqual({ version: 420 });
    for (const bad of ['1_initial.sql', '001-initial.sql', '001_Initial.sql', '001_initial.SQL', 'initial.sql']) {
      expect(parseMigrationFileName(bad)).toBeUndefined();
    }
  });

  test('are read in numeric order, not name order, and other files are ignored', () => {
    writeFileSync(path.join(dir, '010_ten.sql'), 'SELECT 10;');
    writeFileSync(path.join(dir, '002_two.sql'), 'SELECT 2;');
    writeFileSync(path.join(dir, '1000_thousand.sql'), 'SELECT 1000;');
    writeFileSync(path.join(dir, 'README.md'), 'not a migration');
    expect(readMigrations(dir).map((m) => [m.version, m.file])).toEqual([
      [2, '002_two.sql'],
      [10, '010_ten.sql'],
      [1000, '1000_thousand.sql'],
    ]);
  });

  test('a misnamed .sql file is an error naming it', () => {
    writeFileSync(path.join(dir, '002-two.sql'), '');
    expect(() => readMigrations(dir)).toThrow(
      `[CONFIG_INVALID] ${path.join(dir, '002-two.sql')}: migration files are named NNN_lower_case_words.sql (e.g. 002_add_index.sql)`,
    );
  });

  test('two files with one version is an error naming both', () => {
    writeFileSync(path.join(dir, '002_two.sql'), '');
    writeFileSync(path.join(dir, '0002_also_two.sql'), '');
    expect(() => readMigrations(dir)).toThrow(
      `[CONFIG_INVALID] ${dir}: 0002_also_two.sql and 002_two.sql share version 2; give each file its own number`,
    );
  });

  test('the checksum is sha256 of the exact text, so whitespace edits count as edits', () => {
    expect(migrationChecksum('SELECT 1;')).toBe('17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a');
    expect(migrationChecksum('SELECT 1;')).not.toBe(migrationChecksum('SELECT 1; '));
  });
});

describe('planMigrations', () => {
  const files = [file(1, '001_initial.sql'), file(2, '002_more.sql'), file(3, '003_most.sql')];

  test('splits into already applied and pending, in order', () => {
    const plan = planMigrations(files, [{ version: 1, name: '001_initial.sql', checksum: files[0]!.checksum }]);
    expect(plan.alreadyApplied.map((f) => f.file)).toEqual(['001_initial.sql']);
    expect(plan.pending.map((f) => f.file)).toEqual(['002_more.sql', '003_most.sql']);
    expect(plan.unknown).toEqual([]);
  });

  test('a gap is filled: a lower file that never ran is still pending', () => {
    const applied = [1, 3].map((v) => ({ version: v, name: files[v - 1]!.file, checksum: files[v - 1]!.checksum }));
    expect(planMigrations(files, applied).pending.map((f) => f.version)).toEqual([2]);
  });

  test('versions in the database this build does not ship are reported, not fatal', () => {
    const plan = planMigrations(files.slice(0, 1), [
      { version: 1, name: '001_initial.sql', checksum: files[0]!.checksum },
      { version: 7, name: '007_future.sql', checksum: 'x' },
    ]);
    expect(plan.unknown).toEqual([{ version: 7, name: '007_future.sql', checksum: 'x' }]);
  });

  test('a changed checksum names the file and both checksums', () => {
    const edited = file(1, '001_initial.sql', '-- edited\n');
    expect(() =>
      planMigrations([edited], [{ version: 1, name: '001_initial.sql', checksum: 'ab'.repeat(32) }]),
    ).toThrowErrorMatchingInlineSnapshot(
      `[TriadError: [CONFIG_INVALID] migration 001_initial.sql changed after it was applied (as 001_initial.sql; checksum recorded abababababab…, file now 00a03228b214…): never edit an applied migration, add a new file instead]`,
    );
  });
});
