import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rebuildTemplate } from '../fixtures/postgres.js';

/**
 * Integration tests run the built CLI as real processes, so build first (incremental: about a second when nothing
 * changed). A stale dist/ would otherwise test yesterday's code.
 * Then migrate the template database once (STYLE §7): each test file clones it with CREATE DATABASE … TEMPLATE,
 * which takes milliseconds, instead of migrating a database of its own. Fails loudly if PostgreSQL is not running.
 */
export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  await rebuildTemplate();
}
