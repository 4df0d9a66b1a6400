// Schema drift: tapes recorded through the real mcpscope process in front of a real SDK server whose offer
// changes with DRIFT_VARIANT, compared with `tape diff` and `replay --against` (the built CLI), and a
// server that changes its tools mid-run, seen in schema_drift_total by a real Prometheus.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTape } from '../../src/tape/tapeReader.js';
import {
  CLI,
  adminUrlFrom,
  connectHttp,
  connectV2Http,
  startHttpProxy,
  writeTape,
  tapeHeader,
} from '../helpers.js';
import { prometheusMissing, startPrometheus } from '../prometheus.js';

const run = promisify(execFile);
const DRIFT = fileURLToPath(new URL('../fixtures/servers/driftServer.mjs', import.meta.url));
type Variant = 'base' | 'compatible' | 'breaking' | 'info';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI; resolves with its exit code whatever it is. */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

/** tools/list, every page. */
async function listAllTools(client: Client): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

/**
 * Record one session through `mcpscope forward stdio --record` in front of the fixture: every list (all
 * pages of tools/list), then a call of add. Returns the tape's path once it is complete.
 */
async function record(variant: Variant, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `mcpscope-drift-${variant}-`));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', '--no-admin', '--record', dir, '--', process.execPath, DRIFT],
    env: { ...(process.env as Record<string, string>), DRIFT_VARIANT: variant, ...env } as Record<
      string,
      string
    >,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'drift-test', version: '1.0.0' });
  await client.connect(transport);
  await listAllTools(client);
  await client.listPrompts();
  await client.listResources();
  await client.listResourceTemplates();
  await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  await client.close();
  const [file] = readdirSync(dir).filter((f) => f.endsWith('.tape.jsonl'));
  const path = join(dir, file as string);
  // The tape is closed once mcpscope saw the session end (beforeAll cannot use expect.poll).
  for (let i = 0; i < 250 && !(await readTape(path)).complete; i++)
    await new Promise((r) => setTimeout(r, 20));
  return path;
}

interface JsonChange {
  kind: string;
  subject: string;
  name: string;
  path: string;
  message: string;
}
const brief = (changes: JsonChange[]) =>
  changes.map((c) => `${c.kind} ${c.subject} ${c.name}${c.path ? ` ${c.path}` : ''}: ${c.message}`).sort();

describe('schema drift between tapes and against live servers (2025 era, v1 SDK server)', () => {
  const tapes = {} as Record<Variant | 'base2' | 'paged', string>;
  beforeAll(async () => {
    for (const v of ['base', 'compatible', 'breaking', 'info'] as const) tapes[v] = await record(v);
    tapes.base2 = await record('base');
    tapes.paged = await record('base', { DRIFT_PAGE_SIZE: '2' });
  });

  it('tape diff: two recordings of the same server have no drift (exit 0)', async () => {
    const same = await cli(['tape', 'diff', tapes.base, tapes.base2]);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/: no changes$/m);
  });

  it('tape diff: breaking changes, grouped by tool, exit 1; the same as JSON', async () => {
    const text = await cli(['tape', 'diff', tapes.base, tapes.breaking]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/6 breaking, 0 compatible, 0 info/);
    expect(text.stdout).toMatch(
      /^ {2}tool add\n {4}BREAKING {4}argument c: added, required {2}\(inputSchema\.properties\.c\)\n {4}BREAKING {4}output property note: removed/m,
    );
    const json = await cli(['tape', 'diff', tapes.base, tapes.breaking, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as {
      changes: JsonChange[];
      counts: unknown;
      ok: boolean;
      failOn: string;
    };
    expect(report).toMatchObject({
      counts: { breaking: 6, compatible: 0, info: 0 },
      ok: false,
      failOn: 'breaking',
    });
    expect(brief(report.changes)).toEqual([
      'breaking prompt greet arguments.lang: argument lang: added, required',
      'breaking resource config://app mimeType: mimeType changed from "application/json" to "text/plain"',
      'breaking tool add inputSchema.properties.c: argument c: added, required',
      'breaking tool add outputSchema.properties.note: output property note: removed',
      'breaking tool legacy: removed',
      'breaking tool search inputSchema.properties.mode.enum: argument mode: enum value ["deep"] removed',
    ]);
  });

  it('tape diff: compatible changes exit 0, and 1 with --fail-on compatible', async () => {
    const json = await cli(['tape', 'diff', tapes.base, tapes.compatible, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { changes: JsonChange[]; ok: boolean };
    expect(report.ok).toBe(true);
    expect(brief(report.changes)).toEqual(
      expect.arrayContaining([
        'compatible server drift-fixture capabilities.logging: capability logging added',
        'compatible tool add inputSchema.properties.a.type: argument a: type widened from integer to number',
        'compatible tool count: added',
        'compatible tool search inputSchema.properties.limit: argument limit: added, optional',
        'compatible tool search inputSchema.properties.mode.enum: argument mode: enum value ["exact"] added',
      ]),
    );
    expect(report.changes.every((c) => c.kind === 'compatible')).toBe(true);
    const strict = await cli(['tape', 'diff', tapes.base, tapes.compatible, '--fail-on', 'compatible']);
    expect(strict.code).toBe(1);
  });

  it('tape diff: descriptions, annotations, serverInfo and instructions are info (exit 0; 1 with --fail-on info)', async () => {
    const json = await cli(['tape', 'diff', tapes.base, tapes.info, '--json']);
    expect(json.code).toBe(0);
    expect(brief((JSON.parse(json.stdout) as { changes: JsonChange[] }).changes)).toEqual([
      'info server drift-fixture instructions: instructions changed from (absent) to "Use search before add."',
      'info server drift-fixture serverInfo: serverInfo changed from {"name":"drift-fixture","version":"1.0.0"} to {"name":"drift-fixture","version":"1.1.0"}',
      'info tool echo description: description changed from "Echo text" to "Echo the text back"',
      'info tool search annotations: annotations changed from (absent) to {"readOnlyHint":true}',
    ]);
    expect((await cli(['tape', 'diff', tapes.base, tapes.info, '--fail-on', 'compatible'])).code).toBe(0);
    expect((await cli(['tape', 'diff', tapes.base, tapes.info, '--fail-on', 'info'])).code).toBe(1);
  });

  it('tape diff: a paged tools/list is merged across pages before comparing', async () => {
    const paged = await readTape(tapes.paged);
    const lists = paged.events.filter(
      (e) => 'msg' in e && (e.msg as { method?: string }).method === 'tools/list',
    );
    expect(lists.length).toBe(3); // 5 tools, 2 a page
    const diff = await cli(['tape', 'diff', tapes.base, tapes.paged]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/: no changes$/m);
  });

  it('replay --against a breaking server: the drift first, the list answers DIFF, exit 1', async () => {
    const r = await cli(['replay', tapes.base, '--against', '--', process.execPath, DRIFT], {
      DRIFT_VARIANT: 'breaking',
    });
    expect(r.code).toBe(1);
    const [drift, replay] = r.stdout.split(/^replaying /m);
    expect(drift).toMatch(/6 breaking, 0 compatible, 0 info/);
    expect(drift).toMatch(/tool legacy\n {4}BREAKING {4}removed/);
    expect(replay).toMatch(
      /DIFF {2}#2 tools\/list \(differs\)\n {10}breaking: tool add: argument c: added, required/,
    );
    expect(replay).toMatch(/DIFF {2}#3 prompts\/list/);
    expect(replay).toMatch(/DIFF {2}#6 tools\/call add/);
  });

  it('replay --against a compatible or info server: list answers drifted, exit 0; --fail-on compatible exits 1', async () => {
    for (const variant of ['compatible', 'info'] as const) {
      const r = await cli(['replay', tapes.base, '--against', '--', process.execPath, DRIFT], {
        DRIFT_VARIANT: variant,
      });
      expect(r.code, `${variant}:\n${r.stdout}`).toBe(0);
      expect(r.stdout).toMatch(/ok {4}#1 initialize \(drifted\)/);
      expect(r.stdout).toMatch(/ok {4}#2 tools\/list \(drifted\)/);
      expect(r.stdout).toMatch(/6 requests: 4 same, 2 drifted \(within --fail-on breaking\), 0 different/);
    }
    const json = await cli(
      ['replay', tapes.base, '--against', '--json', '--fail-on', 'compatible', '--', process.execPath, DRIFT],
      {
        DRIFT_VARIANT: 'compatible',
      },
    );
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      drift: { ok: boolean; counts: { compatible: number } };
      outcomes: Array<{ method: string; result: string }>;
    };
    expect(report.ok).toBe(false);
    expect(report.drift.ok).toBe(false);
    expect(report.drift.counts.compatible).toBeGreaterThan(0);
    expect(report.outcomes.find((o) => o.method === 'tools/list')?.result).toBe('differs');
  });

  it('replay --against: a paged tape against an unpaged server (and the reverse) has no drift', async () => {
    const unpaged = await cli(['replay', tapes.paged, '--against', '--', process.execPath, DRIFT]);
    expect(unpaged.code, unpaged.stdout).toBe(0);
    expect(unpaged.stdout).toMatch(/: no changes$/m);
    const paged = await cli(['replay', tapes.base, '--against', '--', process.execPath, DRIFT], {
      DRIFT_PAGE_SIZE: '2',
    });
    expect(paged.code, paged.stdout).toBe(0);
    expect(paged.stdout).toMatch(/ok {4}#2 tools\/list \(drifted\)/);
  });

  it('tape diff: a tape with nothing that says what the server offers is an error that says what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpscope-drift-empty-'));
    const empty = writeTape(dir, 'empty', [{ t: 1, edge: 'closed', complete: true }], tapeHeader('empty'));
    const r = await cli(['tape', 'diff', tapes.base, empty]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /holds no answer that says what the server offers .*record a session whose client lists/,
    );
  });
});

describe('schema drift in the 2026-07-28 era (v2 SDK server, server/discover)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpscope-drift-v2-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let tape: string;
  beforeAll(async () => {
    const proxy = await startHttpProxy(['--no-admin', '--record', dir, '--', process.execPath, DRIFT, 'v2']);
    try {
      const c = await connectV2Http(proxy.url, { name: 'drift-v2' });
      await c.client.listTools();
      await c.client.listPrompts();
      await c.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      await c.client.close();
    } finally {
      await proxy.stop();
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.tape.jsonl'));
    const withDiscover = [];
    for (const f of files) {
      const t = await readTape(join(dir, f));
      if (t.events.some((e) => 'msg' in e && (e.msg as { method?: string }).method === 'server/discover'))
        withDiscover.push(t.path);
    }
    expect(withDiscover).toHaveLength(1);
    tape = withDiscover[0] as string;
  });

  it('replay --against compares server/discover and the lists: a capability added is compatible, a tool removed breaking', async () => {
    const compatible = await cli(
      ['replay', tape, '--against', '--json', '--', process.execPath, DRIFT, 'v2'],
      {
        DRIFT_VARIANT: 'compatible',
      },
    );
    expect(compatible.code, compatible.stdout).toBe(0);
    const report = JSON.parse(compatible.stdout) as {
      drift: { changes: JsonChange[] };
      outcomes: Array<{ method: string; result: string }>;
    };
    expect(brief(report.drift.changes)).toContain(
      'compatible server drift-fixture capabilities.logging: capability logging added',
    );
    expect(report.outcomes.find((o) => o.method === 'server/discover')?.result).toBe('drifted');

    const breaking = await cli(['replay', tape, '--against', '--', process.execPath, DRIFT, 'v2'], {
      DRIFT_VARIANT: 'breaking',
    });
    expect(breaking.code).toBe(1);
    expect(breaking.stdout).toMatch(/tool legacy\n {4}BREAKING {4}removed/);
  });
});

describe.skipIf(prometheusMissing())('schema_drift_total: a server that changes its tools mid-run', () => {
  it('counts each change by kind and logs it once (tools/list in pages, merged)', async () => {
    const proxy = await startHttpProxy(['--admin-port', '0', '--', process.execPath, DRIFT], {
      DRIFT_PAGE_SIZE: '2',
    });
    const admin = await adminUrlFrom(proxy.stderr);
    const prom = await startPrometheus([admin]);
    try {
      const c = await connectHttp(proxy.url);
      await listAllTools(c.client);
      await c.client.callTool({ name: 'upgrade', arguments: {} });
      await listAllTools(c.client);
      await listAllTools(c.client); // unchanged since the last one: nothing more
      await c.client.close();
      await prom.scrapedAfter();
      expect(await prom.value('mcpscope_schema_drift_total{kind="breaking"}')).toBe(1); // legacy removed
      expect(await prom.value('mcpscope_schema_drift_total{kind="info"}')).toBe(1); // echo's description
      // Never counted, so possibly no series at all.
      expect(await prom.valueOr0('mcpscope_schema_drift_total{kind="compatible"}')).toBe(0);
      const logged = proxy.stderr().match(/tools\/list changed mid-run: tool legacy: removed/g) ?? [];
      expect(logged).toHaveLength(1);
    } finally {
      await prom.stop();
      await proxy.stop();
    }
  });
});
