// What the npm package carries: everything README links to, the license, and the fields a package page
// shows (repository, bugs, homepage, keywords).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const run = promisify(execFile);

describe('the npm package', () => {
  it('carries README, LICENSE, every local file README links to, and its page fields', async () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({
      license: 'MIT',
      repository: { url: expect.stringContaining('github.com') as unknown },
      bugs: { url: expect.any(String) as unknown },
      homepage: expect.any(String) as unknown,
      keywords: expect.arrayContaining(['mcp']) as unknown,
    });
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const files = new Set(
      (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path),
    );
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const linked = [...readme.matchAll(/\]\(((?!https?:|#)[^)#]+)/g)].map((m) => m[1] as string);
    expect(linked.length).toBeGreaterThan(3);
    for (const path of ['README.md', 'LICENSE', 'dist/cli/main.js', ...linked])
      expect(files, path).toContain(path);
  });
});
