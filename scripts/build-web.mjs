// Bundles the DevTools page (web/) into dist/web/ with esbuild: one minified ES module, its CSS and index.html.
// The admin server serves these files at / (src/admin/devtools.ts). Run by `npm run build` after tsc.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/web/`;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${root}web/main.tsx`],
  outfile: `${out}app.js`,
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: [`${root}web/app.css`],
  outfile: `${out}app.css`,
  minify: true,
  logLevel: 'warning',
});
copyFileSync(`${root}web/index.html`, `${out}index.html`);
