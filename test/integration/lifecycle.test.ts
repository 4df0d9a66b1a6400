import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, childrenOf, post, rawSession, spawnCli, startHttpProxy } from '../helpers.js';

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

describe('process and session lifecycle', () => {
  it('stops a server that ignores SIGTERM with SIGKILL after --grace-ms, and exits 0', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/servers/ignoresSigterm.mjs', import.meta.url));
    const proc = spawnCli([
      'forward',
      'stdio',
      '--no-admin',
      '--grace-ms',
      '300',
      '--',
      process.execPath,
      fixture,
    ]);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let child: number | undefined;
    // Starting node twice takes well over a second on a loaded 2-core machine.
    await expect
      .poll(() => (child = childrenOf(proc.pid as number)[0] ?? 0), { timeout: 10_000 })
      .toBeGreaterThan(0);
    proc.stdin.end(); // the client leaves: mcpscope closes the server's stdin, then SIGTERM, then SIGKILL
    expect(await new Promise((r) => proc.once('exit', r))).toBe(0);
    expect(stderr).toContain('ignoresSigterm: stdin closed, staying up');
    expect(stderr).toContain('ignoresSigterm: SIGTERM ignored');
    expect(alive(child as number)).toBe(false);
  });

  it('expires a session idle past --session-idle-ms: 404 afterwards, its server stopped', async () => {
    const proxy = await startHttpProxy([
      '--no-admin',
      '--session-idle-ms',
      '800',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const sid = await rawSession(proxy.url);
      const [child] = childrenOf(proxy.proc.pid as number);
      expect(child).toBeGreaterThan(0);
      // Stay quiet (any message would count as activity) past the idle limit and one sweep.
      await expect.poll(() => alive(child as number), { timeout: 10_000, interval: 200 }).toBe(false);
      const after = await post(
        proxy.url,
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { 'mcp-session-id': sid },
      );
      expect(after.status).toBe(404);
      expect(await after.json()).toMatchObject({ error: { data: { code: 'SESSION_NOT_FOUND' } } });
      // Other sessions are still served.
      const other = await rawSession(proxy.url);
      const res = await post(
        proxy.url,
        { jsonrpc: '2.0', id: 2, method: 'ping' },
        { 'mcp-session-id': other },
      );
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      await proxy.stop();
    }
  });
});
