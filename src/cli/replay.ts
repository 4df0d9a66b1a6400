import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../jsonrpc/framing.js';
import { ProcessManager } from '../process/processManager.js';
import { replayAgainst, type RequestOutcome } from '../tape/against.js';
import {
  LIST_METHODS,
  compareOffers,
  describeChange,
  failing,
  type Change,
  type ChangeKind,
} from '../tape/drift.js';
import { offerOfTape } from '../tape/offer.js';
import { probeOffer } from '../tape/probe.js';
import { readTape, type Tape } from '../tape/tapeReader.js';
import { StdioClientTransport } from '../transport/stdioClient.js';
import type { Transport } from '../transport/transport.js';
import { driftReport, driftText, type DriftReport } from './drift.js';
import { safeJson, safeText } from './terminal.js';

export interface AgainstCliOptions {
  command: string[];
  url?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  ignore: string[];
  json: boolean;
  /** Which drift of what the server offers fails the run: that kind and more severe ones. */
  failOn: ChangeKind;
  logger: Logger;
}

/** Methods, targets and differences come from the tape and the live server: printed through safeText. */
function line(o: RequestOutcome, tty: boolean): string {
  const name = `#${o.index} ${safeText(o.method)}${o.target ? ` ${safeText(o.target)}` : ''}`;
  if (o.result === 'same') return `  ok    ${name}`;
  // Drift says what changed in what the server offers; the raw differences only when there is none.
  const details = o.drift?.length ? o.drift.map(describeChange) : o.differences;
  const mark = o.result === 'drifted' ? 'ok  ' : tty ? '\u001b[31mDIFF\u001b[0m' : 'DIFF';
  return [`  ${mark}  ${name} (${o.result})`, ...details.map((d) => `          ${safeText(d)}`)].join('\n');
}

/**
 * Before anything is re-sent: ask the live server, over a connection of its own, what it offers, and
 * compare that with what the tape says it offered.
 */
async function liveDrift(
  tape: Tape,
  transport: Transport,
  target: string,
  options: AgainstCliOptions,
): Promise<{ report: DriftReport; listDrift: Map<string, Change[]> }> {
  const recorded = offerOfTape(tape.events);
  const live = await probeOffer(recorded, transport, { timeoutMs: options.timeoutMs });
  const result = compareOffers(recorded.offer, live.offer, ['the tape', 'the live server']);
  const notes = [
    ...recorded.partial.map((m) => `${m}: the tape holds only some of its pages`),
    ...result.notCompared,
    ...live.problems,
  ];
  if (Object.values(recorded.offer).every((part) => part === undefined))
    notes.push(
      'the tape holds no initialize, server/discover or list answer: record a session that lists tools to compare them',
    );
  const listDrift = new Map<string, Change[]>();
  for (const [method, spec] of Object.entries(LIST_METHODS)) {
    if (recorded.offer[spec.part] !== undefined && live.offer[spec.part] !== undefined)
      listDrift.set(
        method,
        result.changes.filter((c) => c.subject === spec.subject),
      );
  }
  return {
    report: driftReport(`tape ${tape.header.id}`, target, result.changes, notes, options.failOn),
    listDrift,
  };
}

/**
 * `mcpscope replay TAPE --against -- cmd` / `--against-url URL`: re-send the tape's client messages to a
 * live server and print every answer that differs. Resolves with the exit code: 0 all same, 1 otherwise.
 */
export async function againstCommand(tapePath: string, options: AgainstCliOptions): Promise<number> {
  const tape = await readTape(tapePath);
  if (tape.torn)
    console.error(
      `note: ${safeText(tapePath)} ends in a torn line (recording was cut short); replaying what is whole`,
    );
  const processes = new ProcessManager({ logger: options.logger });
  let create: () => Transport;
  let close = async (): Promise<void> => undefined;
  if (options.url) {
    const { HttpUpstream } = await import('../transport/httpUpstream.js');
    const http = new HttpUpstream({
      url: options.url,
      headers: options.headers,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      logger: options.logger,
    });
    create = () => http.create();
    close = () => http.close();
  } else {
    const [command, ...args] = options.command;
    if (!command) {
      throw new McpscopeError(
        'CONFIG_INVALID',
        '--against needs the server command after --, e.g. mcpscope replay TAPE --against -- node server.js (or --against-url URL)',
      );
    }
    create = () =>
      new StdioClientTransport({
        spec: { command, args },
        processes,
        maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
        logger: options.logger,
      });
  }
  const tty = process.stdout.isTTY === true;
  const target = options.url ?? options.command.join(' ');
  let transport: Transport | undefined;
  try {
    const { report: drift, listDrift } = await liveDrift(tape, create(), target, options);
    if (!options.json) console.log(driftText(drift, tty));
    if (!options.json) console.log(`replaying ${safeText(tape.header.id)} against ${safeText(target)}`);
    transport = create();
    const report = await replayAgainst(tape, transport, {
      timeoutMs: options.timeoutMs,
      ignore: options.ignore,
      failOn: options.failOn,
      listDrift,
      onProgress: (done, total, outcome) => {
        if (!options.json) console.log(line(outcome, tty));
        else if (process.stderr.isTTY)
          process.stderr.write(`\r${done}/${total}${done === total ? '\n' : ''}`);
      },
    });
    const drifted = report.outcomes.filter((o) => o.result === 'drifted').length;
    const differing = report.outcomes.filter((o) => o.result !== 'same' && o.result !== 'drifted').length;
    if (options.json) {
      console.log(safeJson({ drift, ...report, ok: report.ok && drift.ok }, 2));
    } else {
      if (report.aborted) console.log(`stopped early: ${safeText(report.aborted)}`);
      console.log(
        `${report.requests} requests: ${report.outcomes.length - differing - drifted} same, ` +
          `${drifted > 0 ? `${drifted} drifted (within --fail-on ${options.failOn}), ` : ''}${differing} different` +
          (report.outcomes.length < report.requests
            ? `, ${report.requests - report.outcomes.length} not sent`
            : ''),
      );
    }
    if (!options.json && !drift.ok)
      console.log(
        `what the server offers drifted: ${failing(drift.changes, options.failOn).length} change(s) of kind ${options.failOn} or worse (see above)`,
      );
    return report.ok && drift.ok ? 0 : 1;
  } finally {
    await transport?.close();
    await processes.stopAll();
    await close();
  }
}
