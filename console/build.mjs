// Builds the browser console (console/*.ts → dist/console/public): one minified bundle, no CDN, nothing fetched at
// run time. Run by `npm run build`, hence by `npm ci` (prepare). Prints the bundle's size (docs/console.md quotes it).
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'dist', 'console', 'public');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(here, 'app.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: path.join(out, 'app.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(path.join(here, file), path.join(out, file));
const size = (f) => statSync(path.join(out, f)).size;
const total = size('app.js') + size('index.html') + size('style.css');
console.log(`console: dist/console/public ${total} bytes (app.js ${size('app.js')}, style.css ${size('style.css')})`);
