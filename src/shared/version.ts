import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package version, read once from package.json (two levels up from both src/shared and dist/shared). */
export const triadVersion: string = (() => {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url));
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
})();

/** Absolute path of the project root (holds proto/, config/, migrations/), the same from src/ and dist/. */
export const projectRoot: string = fileURLToPath(new URL('../../', import.meta.url));
