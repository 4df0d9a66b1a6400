/** The DevTools page's files (built from web/ into dist/web/ by scripts/build-web.mjs), served by the admin server. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The page's Content-Security-Policy: its own script and style only (no inline script, no eval), requests to
 * the admin origin only, nothing framed, no forms, no base rewriting.
 */
export const DEVTOOLS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the page is served at, and the file each one is. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/devtools/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/devtools/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export interface DevtoolsFile {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/**
 * The page's files, read once on first use. From dist/admin/ the bundle is ../web/; from src/admin/ (tests run
 * on the sources) it is the built one in ../../dist/web/; from the bundled command line's chunks
 * (dist/cli/chunks/, scripts/bundle.mjs) it is ../../web/.
 */
export class DevtoolsPage {
  readonly #cache = new Map<string, Buffer>();
  readonly #dirs = ['../web/', '../../dist/web/', '../../web/'].map((dir) => new URL(dir, import.meta.url));

  static owns(path: string): boolean {
    return Object.hasOwn(FILES, path);
  }

  file(path: string): DevtoolsFile {
    const entry = FILES[path];
    if (!entry) return this.#missing(`not found: ${path}`);
    let body = this.#cache.get(entry.file);
    if (!body) {
      for (const dir of this.#dirs) {
        try {
          body = readFileSync(fileURLToPath(new URL(entry.file, dir)));
          break;
        } catch {
          // try the next place
        }
      }
      if (!body) {
        return this.#missing(
          `the DevTools page is not built (no ${entry.file} beside the admin server); run npm run build`,
        );
      }
      this.#cache.set(entry.file, body);
    }
    return {
      status: 200,
      headers: {
        'content-type': entry.type,
        'content-length': String(body.length),
        'content-security-policy': DEVTOOLS_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'cache-control': 'no-store',
      },
      body,
    };
  }

  #missing(error: string): DevtoolsFile {
    const text = JSON.stringify({ error });
    return {
      status: 404,
      headers: { 'content-type': 'application/json', 'content-security-policy': DEVTOOLS_CSP },
      body: text,
    };
  }
}
