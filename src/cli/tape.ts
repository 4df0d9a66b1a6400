import { unlink, writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { isMessageEvent, type TapeMessageEvent } from '../tape/format.js';
import { exportTape, type ExportFormat } from '../tape/export.js';
import { readTape, type Tape } from '../tape/tapeReader.js';
import { DEFAULT_TAPE_DIR, listTapeFiles, resolveTape } from '../tape/store.js';
import { exchanges, isErrorAnswer, summarize, type TapeSummary } from '../tape/summary.js';
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

async function readAll(dir: string): Promise<Tape[]> {
  const files = await listTapeFiles(dir);
  const tapes: Tape[] = [];
  for (const [i, file] of files.entries()) {
    try {
      tapes.push(await readTape(file));
    } catch (err) {
      console.error(`skipping ${safeText(file)}: ${safeText((err as Error).message)}`);
    }
    progress('reading tapes', i + 1, files.length);
  }
  return tapes;
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

/**
 * `tape show`: the header, then one line per event with its offset, direction, and answers' latency. Every
 * value from the tape is printed through safeText.
 */
export function timeline(tape: Tape): string {
  const h = tape.header;
  const t = safeText;
  const lines = [
    `tape ${t(h.id)} (format ${t(h.version)}, mcpscope ${t(h.mcpscope)})`,
    `  session ${t(h.sessionId)} over ${t(h.transport)}, started ${t(h.startedAt)}`,
    `  client  ${t(h.clientInfo?.name ?? '?')} ${t(h.clientInfo?.version ?? '')}   server ${t(h.serverInfo?.name ?? '?')} ${t(h.serverInfo?.version ?? '')}   protocol ${t(h.protocolVersion ?? '?')}`,
    `  upstream ${t(h.upstream)}`,
    `  redaction ${h.redaction.enabled ? 'on' : red('off')}` +
      (tape.complete
        ? ''
        : red(
            tape.torn
              ? '   last line torn (mcpscope stopped while writing it)'
              : '   incomplete (no clean end)',
          )),
    '',
  ];
  const latency = new Map<TapeMessageEvent, number>();
  for (const x of exchanges(tape.events))
    if (x.answer && x.latencyMs !== undefined) latency.set(x.answer, x.latencyMs);
  for (const e of tape.events) {
    const offset = `+${(e.t / 1000).toFixed(3)}s`.padStart(10);
    if (!isMessageEvent(e)) {
      const detail =
        e.edge === 'error'
          ? `${t(e.code)}: ${t(e.message)}`
          : e.edge === 'dropped'
            ? `${t(e.count)} events not recorded (disk too slow)`
            : e.edge === 'closed'
              ? t(e.reason ?? 'clean end')
              : t(e.protocolVersion ?? '');
      const text = `${offset}  ··  ${t(e.edge)} ${detail}`;
      lines.push(e.edge === 'error' || e.edge === 'dropped' ? red(text) : dim(text));
      continue;
    }
    const arrow = e.dir === 'c2s' ? '→' : '←';
    const ms = latency.get(e);
    let text = `${offset}  ${arrow}  ${label(e)}${ms !== undefined ? `  (${ms.toFixed(1)} ms)` : ''}`;
    if (e.synthetic) text += dim('  [mcpscope]');
    if (e.drop) text += dim(`  [not delivered: ${t(e.drop)}]`);
    lines.push(e.dir === 's2c' && isErrorAnswer(e) ? red(text) : text);
  }
  return lines.join('\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function statsText(tapes: Tape[]): string {
  const byMethod = new Map<string, { latencies: number[]; errors: number; calls: number }>();
  let messages = 0;
  let size = 0;
  let errors = 0;
  let time = 0;
  for (const tape of tapes) {
    const s = summarize(tape);
    messages += s.messages;
    size += s.sizeBytes;
    errors += s.errors;
    time += s.durationMs;
    for (const x of exchanges(tape.events)) {
      const key = x.target ? `${x.method} ${x.target}` : x.method;
      const row = byMethod.get(key) ?? { latencies: [], errors: 0, calls: 0 };
      row.calls++;
      if (x.error) row.errors++;
      if (x.latencyMs !== undefined) row.latencies.push(x.latencyMs);
      byMethod.set(key, row);
    }
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
    `${tapes.length} tapes, ${bytes(size)}, ${messages} messages, ${errors} errors, ${duration(time)} recorded`,
    '',
    table(rows),
  ].join('\n');
}

/** `mcpscope tape …`: list, show, export, delete and sum up recorded tapes. */
export function tapeCommand(): Command {
  const cmd = new Command('tape').description('list, show, export, delete and sum up recorded tapes');
  const dirOption = (): Option =>
    new Option('--dir <dir>', 'where tapes named by id are looked up').default(DEFAULT_TAPE_DIR);

  cmd
    .command('list')
    .description('one line per tape: id, start, duration, transport, server, messages, size, errors')
    .argument('[dir]', 'tape directory', DEFAULT_TAPE_DIR)
    .option('--json', 'print JSON instead of a table', false)
    .action(async (dir: string, opts: { json: boolean }) => {
      const summaries = (await readAll(dir)).map(summarize);
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
      const tape = await readTape(await resolveTape(arg, opts.dir), {
        onProgress: (done, total) => progress('reading', Math.round(done / 1024), Math.round(total / 1024)),
      });
      console.log(timeline(tape));
    });

  cmd
    .command('export')
    .description('write a tape as one JSON document or as HAR 1.2 (for HAR viewers and browser devtools)')
    .argument('<tape>', 'a tape file, an id (or its prefix) in --dir, or latest')
    .addOption(new Option('--format <format>', 'json or har').choices(['json', 'har']).default('json'))
    .option('-o, --output <file>', 'write here instead of stdout')
    .addOption(dirOption())
    .action(async (arg: string, opts: { format: ExportFormat; output?: string; dir: string }) => {
      const text = exportTape(await readTape(await resolveTape(arg, opts.dir)), opts.format);
      if (opts.output) {
        await writeFile(opts.output, `${text}\n`);
        console.error(`wrote ${opts.output} (${bytes(Buffer.byteLength(text))})`);
      } else {
        console.log(safeJsonText(text));
      }
    });

  cmd
    .command('delete')
    .description('delete tapes (each is checked to be a tape first)')
    .argument('<tapes...>', 'tape files, or ids in --dir')
    .addOption(dirOption())
    .action(async (args: string[], opts: { dir: string }) => {
      for (const arg of args) {
        const path = await resolveTape(arg, opts.dir);
        const tape = await readTape(path);
        await unlink(path);
        console.log(`deleted ${safeText(path)} (${safeText(tape.header.id)}, ${bytes(tape.sizeBytes)})`);
      }
    });

  cmd
    .command('stats')
    .description('totals over a directory of tapes, and calls, errors and latency per method and tool')
    .argument('[dir]', 'tape directory', DEFAULT_TAPE_DIR)
    .option('--json', 'print JSON instead of a table', false)
    .action(async (dir: string, opts: { json: boolean }) => {
      const tapes = await readAll(dir);
      if (opts.json) console.log(safeJson(tapes.map(summarize), 2));
      else console.log(statsText(tapes));
    });
  return cmd;
}
