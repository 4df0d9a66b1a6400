// The DevTools page in a real browser (Debian's chromium through playwright-core) in front of a real mcpscope
// and a real SDK client: sessions appear live, a tools/call shows on one row with its tool name and status,
// selecting it shows both messages, a message's HTML stays text, and the page asks nothing of any other origin.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { connectHttp, startExampleProxy, type RunningCli } from '../helpers.js';
import { launchChromium, type Browser } from './browser.js';

/** Rendered as HTML, this would fetch /x from the admin origin and set a global; as text it does neither. */
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
/** The page as a whole, gzipped, must stay under this (issue 17). */
const PAGE_BUDGET_GZIP_BYTES = 200 * 1024;

const SHOTS = mkdtempSync(join(tmpdir(), 'mcpscope-devtools-shots-'));

/** Every request the page makes, and any script error, recorded for the checks at the end. */
function watch(page: Page): { urls: string[]; errors: string[] } {
  const seen = { urls: [] as string[], errors: [] as string[] };
  page.on('request', (r) => seen.urls.push(r.url()));
  page.on('pageerror', (err) => seen.errors.push(err.message));
  return seen;
}

describe('the DevTools page in chromium', { timeout: 90_000 }, () => {
  let proxy: RunningCli;
  let admin: string;
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    ({ proxy, admin } = await startExampleProxy());
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: admin });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
  });

  it('serves the page with a strict CSP, the admin checks, and under the size budget', async () => {
    const res = await fetch(`${admin}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    let gzipped = gzipSync(html).length;
    for (const asset of ['/devtools/app.js', '/devtools/app.css']) {
      const a = await fetch(`${admin}${asset}`);
      expect(a.status).toBe(200);
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
      gzipped += gzipSync(Buffer.from(await a.arrayBuffer())).length;
    }
    expect(gzipped).toBeLessThan(PAGE_BUDGET_GZIP_BYTES);
    // The admin API's Host and Origin checks hold for the page too.
    const foreign = await fetch(`${admin}/`, { headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
  });

  it('shows a new session live, its tools/call on one row, both messages as text, and nothing from elsewhere', async () => {
    const page = await browser.context.newPage();
    const seen = watch(page);
    await page.goto(`${admin}/`);
    await page.locator('.live.on').waitFor();

    // The client connects after the page is open: its session must appear without a reload.
    const tc = await connectHttp(proxy.url, 'devtools-e2e');
    try {
      const result = await tc.client.callTool({ name: 'echo', arguments: { message: HOSTILE } });
      expect(JSON.stringify(result)).toContain('onerror');

      const sessionLink = page.locator('.sessions a', { hasText: 'devtools-e2e 1.0.0' });
      await sessionLink.waitFor();
      await page.screenshot({ path: join(SHOTS, 'sessions.png'), fullPage: true });
      await sessionLink.click();
      const row = page.locator('.timeline tr.request', { has: page.locator('td.name', { hasText: 'echo' }) });
      await row.waitFor();
      await expect.poll(() => row.locator('td.method').innerText()).toContain('tools/call');
      await expect.poll(() => row.locator('td.status').innerText()).toBe('ok');
      expect(await row.locator('td.num').nth(1).innerText()).toMatch(/ms$/);

      await row.locator('td.method a').click();
      const detail = page.locator('.detail');
      await detail.waitFor();
      // Foldable JSON first; its text a click away.
      const tree = detail.locator('.message').first().locator('.tree');
      await tree.waitFor();
      const params = tree.locator('details.j-node', {
        has: page.locator('> summary', { hasText: '"params"' }),
      });
      expect(await params.getAttribute('open')).not.toBeNull();
      await params.locator('> summary').click();
      expect(await params.getAttribute('open')).toBeNull();
      expect(await params.locator('> summary .j-folded').innerText()).toContain('2 keys');
      for (const mode of await detail.locator('button.mode').all()) await mode.click();
      const [request, answer] = await detail.locator('pre.json').allInnerTexts();
      expect(JSON.parse(request as string)).toMatchObject({
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: HOSTILE } },
      });
      expect(JSON.parse(answer as string)).toMatchObject({
        result: { content: [{ type: 'text', text: HOSTILE }] },
      });

      // The URL names the session and the message: opened afresh, it shows the same selection.
      const link = page.url();
      expect(link).toMatch(/#\/session\/[^/]+\/message\/\d+$/);
      const second = await browser.context.newPage();
      const seen2 = watch(second);
      await second.goto(link);
      await second.locator('.detail .tree').first().waitFor();
      expect(await second.locator('.detail .tree').first().innerText()).toContain('onerror');
      await second.close();

      // Copy as JSON, as curl, as an SDK snippet: what lands on the clipboard runs the same request.
      const clipboard = async (label: string): Promise<string> => {
        await detail.getByRole('button', { name: label }).first().click();
        return (await page.evaluate('navigator.clipboard.readText()')) as string;
      };
      expect(JSON.parse(await clipboard('Copy JSON'))).toMatchObject({ method: 'tools/call' });
      const curl = await clipboard('Copy as curl');
      expect(curl).toContain(`curl -sN '${proxy.url}'`);
      expect(curl).toContain(`mcp-session-id: ${tc.transport.sessionId}`);
      expect(await clipboard('Copy as SDK')).toContain('await client.callTool({\n    "name": "echo"');

      // The filter narrows the timeline; the selection stays shown.
      const filter = page.locator('input[name=filter]');
      await filter.fill('initialize');
      await row.waitFor({ state: 'detached' });
      expect(await page.locator('.timeline tr.request td.method').allInnerTexts()).toEqual(['initialize']);
      await filter.fill('echo ok');
      await row.waitFor();
      await filter.fill('');

      // The hostile text is text: no element made of it, no script run.
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      await page.screenshot({ path: join(SHOTS, 'protocol.png'), fullPage: true });
      console.log(`DevTools screenshots: ${SHOTS}`);

      for (const url of [...seen.urls, ...seen2.urls]) expect(new URL(url).origin).toBe(admin);
      expect([...seen.errors, ...seen2.errors]).toEqual([]);
    } finally {
      await tc.client.close();
      await page.close();
    }
  });

  it('sets a breakpoint in the page, which holds the next call; an edit resumed there changes the answer', async () => {
    const page = await browser.context.newPage();
    const seen = watch(page);
    const tc = await connectHttp(proxy.url, 'devtools-break');
    try {
      await page.goto(`${admin}/#/breakpoints`);
      await page.locator('.live.on').waitFor();
      await page.locator('input[name=method]').fill('tools/call');
      await page.locator('input[name=tool]').fill('echo');
      await page.getByRole('button', { name: 'Set breakpoint' }).click();
      const breakpoint = page.locator('tr[data-breakpoint]');
      await breakpoint.waitFor();
      expect(await breakpoint.locator('td.match').innerText()).toBe('{"method":"tools/call","tool":"echo"}');

      const call = tc.client.callTool({ name: 'echo', arguments: { message: 'as the client sent it' } });
      const held = page.locator('.held');
      await held.waitFor();
      await expect.poll(() => breakpoint.locator('td.num').innerText()).toBe('1');
      const editor = held.locator('textarea[name=message]');
      const original = await editor.inputValue();
      expect(original).toContain('as the client sent it');
      // Invalid JSON is caught as typed: nothing can be resumed until it parses.
      await editor.fill(`${original}}`);
      expect(await held.locator('button.resume').isDisabled()).toBe(true);
      await editor.fill(original.replace('as the client sent it', 'as a person edited it'));
      await page.screenshot({ path: join(SHOTS, 'breakpoints.png'), fullPage: true });
      await held.getByRole('button', { name: 'Resume edited' }).click();
      const result = await call;
      expect(result.content).toEqual([{ type: 'text', text: 'as a person edited it' }]);
      await page.locator('.held').waitFor({ state: 'detached' });

      await breakpoint.getByRole('button', { name: 'Remove' }).click();
      await breakpoint.waitFor({ state: 'detached' });
      const after = await tc.client.callTool({ name: 'echo', arguments: { message: 'not held' } });
      expect(after.content).toEqual([{ type: 'text', text: 'not held' }]);
      for (const url of seen.urls) expect(new URL(url).origin).toBe(admin);
      expect(seen.errors).toEqual([]);
    } finally {
      await tc.client.close();
      await page.close();
    }
  });
});

describe('the DevTools page with --admin-token', { timeout: 90_000 }, () => {
  const TOKEN = 'e2e-admin-token-5531';
  let proxy: RunningCli;
  let admin: string;
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    ({ proxy, admin } = await startExampleProxy(['--admin-token', TOKEN]));
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
  });

  it('takes the token once from the URL, keeps it out of later URLs, and refuses a wrong one', async () => {
    expect((await fetch(`${admin}/`)).status).toBe(401);
    expect((await fetch(`${admin}/?token=wrong`, { redirect: 'manual' })).status).toBe(401);
    const page = await browser.context.newPage();
    const seen = watch(page);
    const tc = await connectHttp(proxy.url, 'devtools-token');
    try {
      await page.goto(`${admin}/?token=${TOKEN}#/`);
      expect(page.url()).toBe(`${admin}/#/`);
      await page.locator('.sessions a', { hasText: 'devtools-token 1.0.0' }).waitFor();
      await page.locator('.live.on').waitFor();
      // A change from the page (a POST with the cookie and this page's Origin) is accepted.
      await page.goto(`${admin}/#/breakpoints`);
      await page.locator('input[name=tool]').fill('add');
      await page.getByRole('button', { name: 'Set breakpoint' }).click();
      await page.locator('tr[data-breakpoint]').waitFor();
      // Only the first navigation carried the token.
      expect(seen.urls.filter((u) => u.includes(TOKEN))).toHaveLength(1);
      // The cookie counts only from this origin: another loopback port's page (same site) is refused.
      const [cookie] = await browser.context.cookies(admin);
      const fromElsewhere = await fetch(`${admin}/breakpoints`, {
        method: 'POST',
        headers: {
          cookie: `${cookie?.name}=${cookie?.value}`,
          origin: 'http://127.0.0.1:1',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ match: { tool: 'echo' } }),
      });
      expect(fromElsewhere.status).toBe(401);
      await fromElsewhere.text();
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      expect(cookie?.value).not.toContain(TOKEN);
      expect(await page.evaluate('document.cookie')).toBe(''); // HttpOnly: the script cannot read it
    } finally {
      await tc.client.close();
      await page.close();
    }
  });
});
