// Builds the web explorer (src/explorer/, SPEC §8) into dist/explorer/: one script and one stylesheet,
// bundled and minified by esbuild, named by their content's hash (so a browser may keep them for a year),
// each with a gzip and a brotli copy beside it that the server sends as they are; and index.html, which
// names them. Run by `npm run build` (and so by `npm install`). Prints the sizes against the budget.

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src', 'explorer');
const out = path.join(root, 'dist', 'explorer');
/** SPEC §8 / issue 13: everything the page loads, gzipped. */
const BUDGET_GZIP_BYTES = 150 * 1024;

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: [path.join(source, 'main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  // Browsers of the last few years: JSON.parse's source text (exact 64-bit integers) needs Chrome 114,
  // Firefox 135, Safari 18.4; the page says so on older ones rather than rounding amounts.
  target: ['chrome114', 'firefox128', 'safari17'],
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

const built = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
const script = built.find((name) => name.endsWith('.js'));
const style = built.find((name) => name.endsWith('.css'));
if (!script || !style) throw new Error(`explorer build: expected one .js and one .css, got ${built.join(', ')}`);

const icon = await readFile(path.join(source, 'icon.svg'));
const iconName = `icon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
await writeFile(path.join(out, iconName), icon);

const template = await readFile(path.join(source, 'index.html'), 'utf8');
const html = template
  .replaceAll('%SCRIPT%', `/explorer/${script}`)
  .replaceAll('%STYLE%', `/explorer/${style}`)
  .replaceAll('%ICON%', `/explorer/${iconName}`);
if (/%[A-Z]+%/.test(html)) throw new Error('explorer build: index.html names an asset the build does not make');
await writeFile(path.join(out, 'index.html'), html);

let total = 0;
const sizes = [];
for (const name of await readdir(out)) {
  const bytes = await readFile(path.join(out, name));
  const gzip = gzipSync(bytes, { level: 9 });
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  await writeFile(path.join(out, `${name}.gz`), gzip);
  await writeFile(path.join(out, `${name}.br`), brotli);
  total += gzip.length;
  sizes.push(`${name} ${(gzip.length / 1024).toFixed(1)} KB`);
}
if (total > BUDGET_GZIP_BYTES) {
  throw new Error(`explorer build: ${(total / 1024).toFixed(1)} KB gzipped, over the ${BUDGET_GZIP_BYTES / 1024} KB budget`);
}
process.stdout.write(`explorer: ${sizes.join(', ')} gzipped; ${(total / 1024).toFixed(1)} KB in all\n`);
