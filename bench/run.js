// `npm run bench [-- name …]`: runs each benchmark in its own process, one after another (they share two cores).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('./', import.meta.url));
// Helpers, and compare.js, which runs benchmarks itself (in two checkouts) rather than being one.
const skip = new Set([
  'run.js',
  'lib.js',
  'durability.js',
  'echo-server.js',
  'epoch-floor.js',
  'etcd.js',
  'compare.js',
]);
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && !skip.has(f))
  .map((f) => f.replace(/\.js$/, ''));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')} (available: ${all.join(', ')})`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  console.log(`\n== ${name}`);
  const result = spawnSync(process.execPath, [`${dir}${name}.js`], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
