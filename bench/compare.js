// `node bench/compare.js --base <checkout> [--rounds 3] <benchmark> …`: runs each benchmark in another checkout of
// triad (built, with its own node_modules) and in this one, alternately, round after round, so both see the same
// machine at the same time; then prints both side by side and writes bench/results/compare-<benchmark>.json.
// A figure measured yesterday means little on two shared cores; the same benchmark interleaved with its peer does.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('../', import.meta.url));
const { values, positionals } = parseArgs({
  options: { base: { type: 'string' }, rounds: { type: 'string', default: '3' } },
  allowPositionals: true,
});
if (!values.base || positionals.length === 0) {
  console.error('usage: node bench/compare.js --base <checkout> [--rounds N] <benchmark> …');
  process.exit(2);
}
const base = path.resolve(values.base);
const rounds = Number(values.rounds);

/** Runs one benchmark in `root`; returns the results it wrote (each benchmark writes bench/results/<name>.json). */
function run(root, name) {
  const result = spawnSync(process.execPath, [path.join(root, 'bench', `${name}.js`)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: process.env,
  });
  if (result.status !== 0) throw new Error(`${name} in ${root} exited ${result.status}`);
  return JSON.parse(readFileSync(path.join(root, 'bench/results', `${name}.json`), 'utf8')).results;
}

function commitOf(root) {
  const result = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'unknown';
}

for (const name of positionals) {
  const runs = { base: [], head: [] };
  for (let round = 1; round <= rounds; round++) {
    // Alternate which goes first, so neither always runs on a machine the other just warmed up (or wore out).
    const order = round % 2 ? ['base', 'head'] : ['head', 'base'];
    for (const side of order) {
      console.log(`\n== ${name}: round ${round}, ${side}`);
      runs[side].push(run(side === 'base' ? base : here, name));
    }
  }
  const file = path.join(here, 'bench/results', `compare-${name}.json`);
  // The commits, not the checkouts' paths: a path means nothing on another machine.
  const commits = { base: commitOf(base), head: commitOf(here) };
  writeFileSync(file, `${JSON.stringify({ generatedAt: new Date().toISOString(), commits, rounds, runs }, null, 2)}\n`);
  console.log(`\n${name}: ${rounds} alternating rounds written to ${file}`);
}
