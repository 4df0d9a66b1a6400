import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { isMessageEvent, type TapeEvent, type TapeHeader, type TapeMessageEvent } from '../tape/format.js';
import { exportTape, type ExportFormat } from '../tape/export.js';
import { TapeStream } from '../tape/tapeReader.js';
import { DEFAULT_TAPE_DIR, listTapeFiles, resolveTape } from '../tape/store.js';
import { ExchangePairer, exchange, isErrorAnswer, summarize, type TapeSummary } from '../tape/summary.js';
import type { ChangeKind } from '../tape/drift.js';
import { diffCommand, failOnOption } from './drift.js';
import { OutputClosed, TextOutput, readProgress } from './output.js';
import { safeJson, safeJsonText, safeText } from './terminal.js';

const tty = (): boolean => process.stdout.isTTY === true;
const paint = (code: number, text: string): string => (tty() ? `\u001b[${code}m${text}\u001b[0m` : text);
const red = (t: string): string => paint(31, t);
const dim = (t: string): string => paint(2, t);

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Progress on stderr for work over many tapes, on a terminal only (a pipe gets clean output). */
function progress(label: string, done: number, total: number): void {
  if (!process.stderr.isTTY || total < 5) return;
  process.stderr.write(`\r${label} ${done}/${total}${done === total ? '\n' : ''}`);
}

/**
 * Each tape in `dir`, one at a time, each read once as a stream (so memory does not grow with the tapes);
 * one that cannot be read is skipped with a note.
 */
async function forEachTape(dir: string, read: (tape: TapeStream) => Promise<void>): Promise<void> {
  const files = await listTapeFiles(dir);
  for (const [i, file] of files.entries()) {
    try {
      await read(await TapeStream.open(file));
    } catch (err) {
      console.error(`skipping ${safeText(file)}: ${safeText((err as Error).message)}`);
    }
    progress('reading tapes', i + 1, files.length);
  }
}

interface MethodRow {
  latencies: number[];
  errors: number;
  calls: number;
}

/** Calls, errors and latencies per method and tool of one tape, gathered as its events go by. */
function methodFigures(): { each: (e: TapeEvent) => void; rows: Map<string, MethodRow> } {
  const pairer = new ExchangePairer();
  const rows = new Map<string, MethodRow>();
  const rowOf = (request: TapeMessageEvent): MethodRow => {
    const x = exchange(request, undefined);
    const key = x.target ? `${x.method} ${x.target}` : x.method;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { latencies: [], errors: 0, calls: 0 }));
    return row;
  };
  const each = (e: TapeEvent): void => {
    const request = pairer.request(e);
    if (request) rowOf(request).calls++;
    const answered = pairer.answered(e);
    if (answered) {
      const row = rowOf(answered);
      if (isErrorAnswer(e as TapeMessageEvent)) row.errors++;
      row.latencies.push(e.t - answered.t);
    }
  };
  return { each, rows };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function listTable(summaries: TapeSummary[]): string {
  const rows = [['ID', 'STARTED', 'DURATION', 'TRANSPORT', 'SERVER', 'MESSAGES', 'SIZE', 'ERRORS']];
  for (const s of summaries) {
    rows.push([
      safeText(s.id) + (s.complete ? '' : s.torn ? ' (torn)' : ' (incomplete)'),
      safeText(s.startedAt)
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z'),
      duration(s.durationMs),
      safeText(s.transport),
      safeText(s.server).slice(0, 40),
      String(s.messages),
      bytes(s.sizeBytes),
      String(s.errors),
    ]);
  }
  return table(rows);
}

/** Everything in it comes from the tape (peers, or whoever wrote the file): each value goes through safeText. */
function label(e: TapeMessageEvent): string {
  const m = e.msg as { method?: unknown; id?: unknown; params?: { name?: unknown; uri?: unknown } };
  const id = safeText(m.id);
  if (m.method) {
    const target = m.params?.name ?? m.params?.uri;
    return `${safeText(m.method)}${target ? ` ${safeText(target)}` : ''}${m.id !== undefined ? ` #${id}` : ''}`;
  }
  const error = (e.msg as { error?: { message?: unknown } }).error;
  if (error) return `error #${id}: ${safeText(error.message ?? '')}`;
  return isErrorAnswer(e) ? `tool error #${id}` : `result #${id}`;
}

/** The header of `tape show`. Every value from the tape is printed through safeText. */
function headerText(h: TapeHeader): string {
  const t = safeText;
  return [
    `tape ${t(h.id)} (format ${t(h.version)}, mcpscope ${t(h.mcpscope)})`,
    `  session ${t(h.sessionId)} over ${t(h.transport)}, started ${t(h.startedAt)}`,
    `  client  ${t(h.clientInfo?.name ?? '?')} ${t(h.clientInfo?.version ?? '')}   server ${t(h.serverInfo?.name ?? '?')} ${t(h.serverInfo?.version ?? '')}   protocol ${t(h.protocolVersion ?? '?')}`,
    `  upstream ${t(h.upstream)}`,
    `  redaction ${h.redaction.enabled ? 'on' : red('off')}`,
    '',
  ].join('\n');
}

/** A session event in one line: its type and its fields (`stderr: listening on 3000`, `process-exited code=1`). */
function eventDetail(event: { type: string } & Record<string, unknown>): string {
  if (event.type === 'stderr') return `stderr: ${String(event.line)}`;
  const fields = Object.entries(event)
    .filter(([key, value]) => key !== 'type' && value !== null && typeof value !== 'object')
    .map(([key, value]) => `${key}=${String(value)}`);
  return [event.type, ...fields].join(' ');
}

/** One line of `tape show`: offset, direction, what it is, and an answer's latency. */
function eventLine(e: TapeEvent, latencyMs: number | undefined): string {
  const t = safeText;
  // Tapes from before sessions started at their opening message may hold a slightly negative first offset.
  const offset = `+${(Math.max(0, e.t) / 1000).toFixed(3)}s`.padStart(10);
  if (!isMessageEvent(e)) {
    const detail =
      e.edge === 'error'
        ? `${t(e.code)}: ${t(e.message)}`
        : e.edge === 'dropped'
          ? `${t(e.count)} events not recorded (disk too slow)`
          : e.edge === 'closed'
            ? t(e.reason ?? 'clean end')
            : e.edge === 'event' && e.event
              ? t(eventDetail(e.event))
              : t(e.protocolVersion ?? '');
    const text = `${offset}  ··  ${t(e.edge)} ${detail}`;
    return e.edge === 'error' || e.edge === 'dropped' ? red(text) : dim(text);
  }
  const arrow = e.dir === 'c2s' ? '→' : '←';
  let text = `${offset}  ${arrow}  ${label(e)}${latencyMs !== undefined ? `  (${latencyMs.toFixed(1)} ms)` : ''}`;
  if (e.synthetic) text += dim('  [mcpscope]');
  if (e.rule) text += dim(`  [rule ${t(e.rule.rule)}: ${t(e.rule.action)}]`);
  if (e.drop) text += dim(`  [not delivered: ${t(e.drop)}]`);
  // An exchange's trace, on its request's line (recorded with tracing on): to find it in the trace store.
  if (e.trace && e.dir === 'c2s' && 'method' in e.msg && 'id' in e.msg) text += dim(`  trace ${t(e.trace)}`);
  return e.dir === 's2c' && isErrorAnswer(e) ? red(text) : text;
}

/**
 * `tape show`: the header, then one line per event with its offset, direction, and answers' latency, then
 * whether the tape is whole. Streamed: one event in memory at a time, output written as it is made.
 */
export async function showTape(tape: TapeStream, out: TextOutput): Promise<void> {
  await out.write(`${headerText(tape.header)}\n`);
  const pairer = new ExchangePairer();
  for await (const e of tape.events()) {
    pairer.request(e);
    const request = pairer.answered(e);
    await out.write(`${eventLine(e, request ? e.t - request.t : undefined)}\n`);
    if (out.closed) return;
  }
  if (!tape.complete) {
    const end = tape.torn
      ? 'last line torn (mcpscope stopped while writing it)'
      : 'incomplete (no clean end)';
    await out.write(`${red(`  ${end}`)}\n`);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function statsText(summaries: TapeSummary[], byMethod: Map<string, MethodRow>): string {
  let messages = 0;
  let size = 0;
  let errors = 0;
  let time = 0;
  for (const s of summaries) {
    messages += s.messages;
    size += s.sizeBytes;
    errors += s.errors;
    time += s.durationMs;
  }
  const rows = [['METHOD', 'CALLS', 'ERRORS', 'P50 MS', 'P95 MS']];
  for (const [key, row] of [...byMethod].sort((a, b) => b[1].calls - a[1].calls)) {
    const sorted = row.latencies.sort((a, b) => a - b);
    rows.push([
      safeText(key),
      String(row.calls),
      String(row.errors),
      percentile(sorted, 50).toFixed(1),
      percentile(sorted, 95).toFixed(1),
    ]);
  }
  return [
    `${summaries.length} tapes, ${bytes(size)}, ${messages} messages, ${errors} errors, ${duration(time)} recorded`,
    '',
    table(rows),
  ].join('\n');
}

/** `mcpscope tape …`: list, show, export, delete, compare and sum up recorded tapes. */
export function tapeCommand(): Command {
  const cmd = new Command('tape').description(
    'list, show, export, delete, compare and sum up recorded tapes',
  );
  const dirOption = (): Option =>
    new Option('--dir <dir>', 'where tapes named by id are looked up').default(DEFAULT_TAPE_DIR);

  cmd
    .command('list')
    .description('one line per tape: id, start, duration, transport, server, messages, size, errors')
    .argument('[dir]', 'tape directory', DEFAULT_TAPE_DIR)
    .option('--json', 'print JSON instead of a table', false)
    .action(async (dir: string, opts: { json: boolean }) => {
      const summaries: TapeSummary[] = [];
      await forEachTape(dir, async (tape) => {
        summaries.push(await summarize(tape));
      });
      if (opts.json) console.log(safeJson(summaries, 2));
      else if (summaries.length === 0) console.log(`no tapes in ${dir}`);
      else console.log(listTable(summaries));
    });

  cmd
    .command('show')
    .description('the timeline of one tape: offsets, directions, methods and tools, latency, errors')
    .argument('<tape>', 'a tape file, an id (or its prefix) in --dir, or latest')
    .addOption(dirOption())
    .action(async (arg: string, opts: { dir: string }) => {
      const tape = await TapeStream.open(await resolveTape(arg, opts.dir), {
        onProgress: readProgress('reading', tty()),
      });
      const out = new TextOutput(process.stdout);
      await showTape(tape, out);
      await out.end();
    });

  cmd
    .command('export')
    .description('write a tape as one JSON document or as HAR 1.2 (for HAR viewers and browser devtools)')
    .argument('<tape>', 'a tape file, an id (or its prefix) in --dir, or latest')
    .addOption(new Option('--format <format>', 'json or har').choices(['json', 'har']).default('json'))
    .option('-o, --output <file>', 'write here instead of stdout')
    .addOption(dirOption())
    .action(async (arg: string, opts: { format: ExportFormat; output?: string; dir: string }) => {
      const toFile = opts.output !== undefined;
      const tape = await TapeStream.open(await resolveTape(arg, opts.dir), {
        onProgress: readProgress('exporting', !toFile && tty()),
      });
      // A file gets the JSON as it is; a terminal or pipe gets it with DEL, C1 and bidi controls escaped.
      const out = opts.output
        ? new TextOutput(createWriteStream(opts.output))
        : new TextOutput(process.stdout, safeJsonText);
      let written = 0;
      await exportTape(tape, opts.format, (text) => {
        // The reader went away (`| head`): stop reading the tape too.
        if (out.closed) throw new OutputClosed();
        written += Buffer.byteLength(text);
        return out.write(text);
      }).catch((err: unknown) => {
        if (!(err instanceof OutputClosed)) throw err;
      });
      await out.end();
      if (toFile) console.error(`wrote ${safeText(opts.output)} (${bytes(written)})`);
    });

  cmd
    .command('delete')
    .description('delete tapes (each is checked to be a tape first)')
    .argument('<tapes...>', 'tape files, or ids in --dir')
    .addOption(dirOption())
    .action(async (args: string[], opts: { dir: string }) => {
      for (const arg of args) {
        const path = await resolveTape(arg, opts.dir);
        // Its header says it is a tape; the rest need not be read.
        const tape = await TapeStream.open(path);
        await tape.close();
        await unlink(path);
        console.log(`deleted ${safeText(path)} (${safeText(tape.header.id)}, ${bytes(tape.sizeBytes)})`);
      }
    });

  cmd
    .command('diff')
    .description(
      'compare what two tapes say their server offers (tools, prompts, resources, capabilities): breaking, compatible, info',
    )
    .argument('<before>', 'the tape clients relied on: a file, an id (or its prefix) in --dir, or latest')
    .argument('<after>', 'the tape to compare with it')
    .option('--json', 'print the report as JSON', false)
    .addOption(failOnOption())
    .addOption(dirOption())
    .action(
      async (before: string, after: string, opts: { json: boolean; failOn: ChangeKind; dir: string }) => {
        process.exitCode = await diffCommand(before, after, opts);
      },
    );

  cmd
    .command('stats')
    .description('totals over a directory of tapes, and calls, errors and latency per method and tool')
    .argument('[dir]', 'tape directory', DEFAULT_TAPE_DIR)
    .option('--json', 'print JSON instead of a table', false)
    .action(async (dir: string, opts: { json: boolean }) => {
      const summaries: TapeSummary[] = [];
      const byMethod = new Map<string, MethodRow>();
      await forEachTape(dir, async (tape) => {
        const figures = methodFigures();
        summaries.push(await summarize(tape, figures.each));
        // Only a tape read to its end counts.
        for (const [key, row] of figures.rows) {
          const sum = byMethod.get(key);
          if (!sum) byMethod.set(key, row);
          else {
            sum.calls += row.calls;
            sum.errors += row.errors;
            for (const ms of row.latencies) sum.latencies.push(ms);
          }
        }
      });
      if (opts.json) console.log(safeJson(summaries, 2));
      else console.log(statsText(summaries, byMethod));
    });
  return cmd;
}
