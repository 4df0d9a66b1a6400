#!/usr/bin/env node
// The command line as a bundle (part of `npm run build`, after tsc): dist/cli/main.js and its chunks in
// dist/cli/chunks/, built with esbuild from what tsc wrote. A launch then reads a few files instead of
// resolving and reading several hundred (zod alone is about a hundred); what a command imports dynamically
// (the proxy's parts, the tape tools, OpenTelemetry, undici) stays in chunks of its own and is loaded only
// when that command needs it. The library (dist/index.js and the rest of dist/) is tsc's output, unbundled.
// docs/performance.md, "Cold start", says what it bought.
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));

rmSync(`${ROOT}dist/cli/chunks`, { recursive: true, force: true });
await build({
  entryPoints: [`${ROOT}dist/cli/main.js`],
  outdir: `${ROOT}dist/cli`,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Optional native speed-ups of ws, and the protobuf codec of the sketches library (never used here):
  // loaded at run time if present, as without a bundle.
  external: ['bufferutil', 'utf-8-validate', 'protobufjs/minimal'],
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __mcpscopeRequire } from 'node:module'; const require = __mcpscopeRequire(import.meta.url);",
  },
  plugins: [
    {
      // src/version.ts reads ../package.json next to itself, which a bundle in dist/cli/ would miss.
      name: 'version',
      setup(b) {
        b.onLoad({ filter: /[\\/]dist[\\/]version\.js$/ }, () => ({
          contents: `export const VERSION = ${JSON.stringify(version)};`,
        }));
      },
    },
  ],
  // Stack traces can be mapped back to src/ (node --enable-source-maps), through tsc's own maps.
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
