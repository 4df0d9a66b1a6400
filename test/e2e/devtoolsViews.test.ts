// The DevTools page's other views in Debian's chromium, each showing real data from a real mcpscope and real
// SDK clients: Network (an HTTP exchange, Mcp-Session-Id marked, Authorization masked), Console (a stderr
// line of the server), Health (a tool's figures and charts), rules (hits rising, one turned off stops
// acting, what a rule made is marked in the timeline), a reply typed at a breakpoint, Tapes (listed, opened,
// exported as HAR), and a session of 10,000 messages of which only a window of rows is drawn.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  EXAMPLE,
  adminUrlFrom,
  connectHttp,
  connectStdio,
  makeClient,
  mockAddRules,
  startExampleProxy,
  type RunningCli,
} from '../helpers.js';
import { launchChromium, type Browser } from './browser.js';

const SHOTS = mkdtempSync(join(tmpdir(), 'mcpscope-devtools-views-'));

const text = (result: unknown): string =>
  ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;

/** A page that fails the test on any script error or any request to another origin. */
async function open(browser: Browser, url: string): Promise<{ page: Page; check(): void }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const urls: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('request', (r) => urls.push(r.url()));
  await page.goto(url);
  const origin = new URL(url).origin;
  return {
    page,
    check() {
      expect(errors).toEqual([]);
      for (const u of urls) expect(new URL(u).origin).toBe(origin);
    },
  };
}

// A browser and a proxy on a loaded machine (the whole suite runs beside): each view gets a minute.
describe('the DevTools views in chromium', { timeout: 90_000 }, () => {
  let dir: string;
  let proxy: RunningCli;
  let admin: string;
  let browser: Browser;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpscope-devtools-views-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, mockAddRules('mocked by a rule'));
    browser = await launchChromium();
    ({ proxy, admin } = await startExampleProxy(['--rules', rules, '--record', join(dir, 'tapes')]));
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
    rmSync(dir, { recursive: true, force: true });
    console.log(`DevTools view screenshots: ${SHOTS}`);
  });

  it('Network: the HTTP exchanges of a session, Mcp-Session-Id marked, Authorization masked', async () => {
    const tc = makeClient('network-client');
    const transport = new StreamableHTTPClientTransport(new URL(proxy.url), {
      requestInit: { headers: { authorization: 'Bearer e2e-canary-6620' } },
    });
    await tc.client.connect(transport);
    const id = transport.sessionId as string;
    try {
      await tc.client.callTool({ name: 'echo', arguments: { message: 'over HTTP' } });
      const { page, check } = await open(browser, `${admin}/#/session/${id}/network`);
      const exchange = page.locator('.network tr[data-type="http"]', { hasText: 'client → mcpscope' }).last();
      await exchange.waitFor();
      expect(await exchange.innerText()).toMatch(/POST \/mcp\s+200/);
      await exchange.click();
      const headers = page.locator('.detail table.headers').first();
      const sessionHeader = headers.locator('tr[data-header="mcp-session-id"]');
      await sessionHeader.waitFor();
      expect(await sessionHeader.getAttribute('class')).toContain('mcp-header');
      expect(await sessionHeader.locator('td').innerText()).toBe(id);
      const auth = headers.locator('tr[data-header="authorization"] td');
      expect(await auth.innerText()).toBe('[REDACTED]');
      expect(await auth.getAttribute('class')).toContain('masked');
      expect(await page.content()).not.toContain('e2e-canary-6620');
      const response = page.locator('.detail table.headers').nth(1);
      expect(await response.locator('tr[data-header="content-type"] td').innerText()).toBe(
        'text/event-stream',
      );
      await page.screenshot({ path: join(SHOTS, 'network.png'), fullPage: true });
      check();
      await page.close();
    } finally {
      await tc.client.close();
    }
  });

  it("Console: the server's stderr line, live", async () => {
    const tc = await connectHttp(proxy.url, 'console-client');
    const id = tc.transport.sessionId as string;
    try {
      const { page, check } = await open(browser, `${admin}/#/session/${id}/console`);
      await page.locator('.live.on').waitFor();
      // A cancelled slow call makes the example server say so on its stderr.
      const abort = new AbortController();
      const slow = tc.client.callTool({ name: 'slow', arguments: { ms: 5_000 } }, undefined, {
        signal: abort.signal,
      });
      setTimeout(() => abort.abort(), 200);
      await expect(slow).rejects.toThrow();
      const line = page.locator('.console tr.level-stderr td.line', { hasText: 'cancelled' });
      await line.waitFor();
      expect(await line.innerText()).toMatch(/^example server: slow call \d+ cancelled$/);
      expect(
        await page.locator('.console tr.level-info', { hasText: 'server process' }).count(),
      ).toBeGreaterThan(0);
      check();
      await page.close();
    } finally {
      await tc.client.close();
    }
  });

  it("Health: a tool's figures, trends and charts of the hour", async () => {
    const tc = await connectHttp(proxy.url, 'health-client');
    try {
      for (let i = 0; i < 3; i++) await tc.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await tc.client.callTool({ name: 'fail', arguments: {} });
    } finally {
      await tc.client.close();
    }
    const { page, check } = await open(browser, `${admin}/#/health`);
    const echo = page.locator('.card[data-target="tool:echo"]');
    await echo.waitFor();
    expect(Number(await echo.locator('.calls').innerText())).toBeGreaterThanOrEqual(3);
    expect(await echo.locator('.health').innerText()).toBe('100');
    expect(await echo.locator('.p95').innerText()).toMatch(/ms$/);
    expect(await echo.locator('svg.spark').count()).toBe(4);
    const fail = page.locator('.card[data-target="tool:fail"]');
    expect(await fail.locator('.error-rate').innerText()).toBe('100 %');
    expect(await fail.locator('.health').getAttribute('class')).toContain('bad');
    expect(await fail.locator('svg.spark[aria-label^="error rate"]').getAttribute('aria-label')).toBe(
      'error rate: 100 %',
    );
    // The tools are listed worst first.
    const targets = await page
      .locator('.card')
      .evaluateAll((cards) => cards.map((c) => c.getAttribute('data-target')));
    expect(targets.indexOf('tool:fail')).toBeLessThan(targets.indexOf('tool:echo'));
    await page.screenshot({ path: join(SHOTS, 'health.png'), fullPage: true });
    check();
    await page.close();
  });

  it('Rules: hits rise with calls, a disabled rule stops acting, and what a rule made is marked', async () => {
    const { page, check } = await open(browser, `${admin}/#/breakpoints`);
    const rule = page.locator('table.rules tr[data-rule="mock-add"]');
    await rule.waitFor();
    const hits = async () => Number(await rule.locator('td.hits').innerText());
    const before = await hits();
    const tc = await connectHttp(proxy.url, 'rules-client');
    const id = tc.transport.sessionId as string;
    try {
      expect(text(await tc.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } }))).toBe(
        'mocked by a rule',
      );
      await expect.poll(hits).toBe(before + 1);

      await rule.getByRole('button', { name: 'Disable' }).click();
      await expect.poll(() => rule.locator('td.state').innerText()).toContain('off');
      expect(text(await tc.client.callTool({ name: 'add', arguments: { a: 2, b: 2 } }))).toBe('4');
      await page.waitForTimeout(300);
      expect(await hits()).toBe(before + 1);
      await rule.getByRole('button', { name: 'Enable' }).click();
      await expect.poll(() => rule.locator('td.state').innerText()).toContain('on');

      // In the session's timeline, the mocked call carries the rule's name; the real one does not.
      await page.goto(`${admin}/#/session/${id}`);
      const calls = page.locator('.timeline tr.request', {
        has: page.locator('td.name', { hasText: 'add' }),
      });
      await expect.poll(() => calls.count()).toBe(2);
      expect(await calls.nth(0).locator('.tag.rule').innerText()).toBe('mock-add');
      expect(await calls.nth(1).locator('.tag.rule').count()).toBe(0);
      await calls.nth(0).locator('td.method a').click();
      expect(await page.locator('.detail h3', { hasText: 'Answer' }).locator('.tag.rule').innerText()).toBe(
        'mock-add (mock)',
      );
      await page.screenshot({ path: join(SHOTS, 'rules-timeline.png'), fullPage: true });
      check();
    } finally {
      await tc.client.close();
      await page.close();
    }
  });

  it('Breakpoints: a reply typed at a breakpoint is what the client gets', async () => {
    const { page, check } = await open(browser, `${admin}/#/breakpoints`);
    const tc = await connectHttp(proxy.url, 'reply-client');
    try {
      await page.locator('.live.on').waitFor();
      await page.locator('input[name=tool]').fill('echo');
      await page.getByRole('button', { name: 'Set breakpoint' }).click();
      const breakpoint = page.locator('tr[data-breakpoint]');
      await breakpoint.waitFor();
      const call = tc.client.callTool({ name: 'echo', arguments: { message: 'never reaches the server' } });
      const held = page.locator('.held');
      await held.waitFor();
      const reply = held.locator('textarea[name=reply]');
      await reply.fill('{ "result": { "content": [{ "type": "text", "text": "typed" ');
      expect(await held.locator('button.reply').isDisabled()).toBe(true);
      await reply.fill(
        JSON.stringify({ result: { content: [{ type: 'text', text: 'typed by a person' }] } }),
      );
      await held.locator('button.reply').click();
      // A refusal shows on the page: fail with it rather than wait for an answer that will not come.
      const refused = page
        .locator('.problem')
        .first()
        .waitFor({ timeout: 50_000 })
        .then(async () => {
          throw new Error(`the page says: ${await page.locator('.problem').first().innerText()}`);
        });
      refused.catch(() => undefined); // once the call is answered, nobody waits for this one
      expect(text(await Promise.race([call, refused]))).toBe('typed by a person');
      await held.waitFor({ state: 'detached' });
      await breakpoint.getByRole('button', { name: 'Remove' }).click();
      await breakpoint.waitFor({ state: 'detached' });
      check();
    } finally {
      await tc.client.close();
      await page.close();
    }
  });

  it('Tapes: a recorded session is listed, opens in the timeline, and exports as HAR', async () => {
    const tc = await connectHttp(proxy.url, 'tape-client');
    const id = tc.transport.sessionId as string;
    await tc.client.callTool({ name: 'echo', arguments: { message: 'kept on tape' } });
    await tc.client.close();
    const { page, check } = await open(browser, `${admin}/#/tapes`);
    const row = page.locator('.tapes tr[data-tape]', { hasText: 'tape-client 1.0.0' });
    // The tape is listed once the session has closed and its tape is written; read the list again till then.
    await expect
      .poll(async () => {
        await page.reload();
        await page.locator('.tapes table, .tapes .empty').first().waitFor();
        return row.count();
      })
      .toBe(1);
    const tapeId = (await row.getAttribute('data-tape')) as string;
    expect(tapeId).toContain(id.replace(/-/g, '').slice(0, 8));
    await row.locator('a').click();
    const call = page.locator('.timeline tr.request', { has: page.locator('td.name', { hasText: 'echo' }) });
    await call.waitFor();
    expect(await call.locator('td.status').innerText()).toBe('ok');
    expect(page.url()).toBe(`${admin}/#/tape/${tapeId}`);
    await call.locator('td.method a').click();
    await page.locator('.detail .tree').first().waitFor();
    expect(await page.locator('.detail').innerText()).toContain('kept on tape');

    const har = page.locator('a.export-har');
    const href = (await har.getAttribute('href')) as string;
    const exported = JSON.parse(
      (await page.evaluate(`fetch(${JSON.stringify(href)}).then((r) => r.text())`)) as string,
    ) as { log: { entries: Array<{ request: { postData: { text: string } } }> } };
    expect(exported.log.entries.some((e) => e.request.postData.text.includes('kept on tape'))).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'tape.png'), fullPage: true });
    check();
    await page.close();
  });
});

describe('a session of 10,000 messages', () => {
  it('draws only the rows in view, and scrolls to any of them', { timeout: 180_000 }, async () => {
    const browser = await launchChromium();
    const stdio = await connectStdio([
      '--admin-port',
      '0',
      '--feed-events',
      '12000',
      '--',
      process.execPath,
      EXAMPLE,
    ]);
    try {
      const admin = await adminUrlFrom(stdio.stderr);
      // 5,000 calls and their answers, 500 at a time.
      for (let i = 0; i < 10; i++) {
        await Promise.all(
          Array.from({ length: 500 }, (_, j) =>
            stdio.client.callTool({ name: 'add', arguments: { a: i, b: j } }),
          ),
        );
      }
      const sessions = (await (await fetch(`${admin}/sessions`)).json()) as {
        sessions: Array<{ id: string }>;
      };
      const id = sessions.sessions[0]?.id as string;
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${admin}/#/session/${id}`);
      const count = page.locator('.rows-count');
      await expect.poll(() => count.innerText(), { timeout: 60_000 }).toMatch(/^50\d\d rows$/);
      const total = Number((await count.innerText()).split(' ')[0]);
      const drawn = page.locator('.timeline tbody tr[data-seq]');
      expect(await drawn.count()).toBeLessThan(150);
      // Scrolled halfway down, the rows there are drawn (and still only a window of them).
      await page.locator('.virtual').evaluate((el) => {
        el.scrollTop = el.scrollHeight / 2;
      });
      await expect
        .poll(async () => Number(await drawn.first().getAttribute('data-seq')))
        .toBeGreaterThan(total * 0.8);
      expect(await drawn.count()).toBeLessThan(150);
      // A deep link to a message far away (an early call) scrolls to it.
      const early = (await (await fetch(`${admin}/sessions/${id}/events?limit=100`)).json()) as {
        events: Array<{ seq: number; method?: string; kind?: string }>;
      };
      const seq = early.events.filter((e) => e.method === 'tools/call' && e.kind === 'request')[20]?.seq;
      await page.goto(`${admin}/#/session/${id}/message/${seq}`);
      await page.locator(`.timeline tr.selected[data-seq="${seq}"]`).waitFor();
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await stdio.client.close();
      await browser.close();
    }
  });
});
