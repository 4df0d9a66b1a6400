import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../jsonrpc/framing.js';
import { ProcessManager } from '../process/processManager.js';
import { replayAgainst, type RequestOutcome } from '../tape/against.js';
import { readTape } from '../tape/tapeReader.js';
import { StdioClientTransport } from '../transport/stdioClient.js';
import type { Transport } from '../transport/transport.js';
import { safeJson, safeText } from './terminal.js';

export interface AgainstCliOptions {
  command: string[];
  url?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  ignore: string[];
  json: boolean;
  logger: Logger;
}

/** Methods, targets and differences come from the tape and the live server: printed through safeText. */
function line(o: RequestOutcome, tty: boolean): string {
  const name = `#${o.index} ${safeText(o.method)}${o.target ? ` ${safeText(o.target)}` : ''}`;
  if (o.result === 'same') return `  ok    ${name}`;
  const mark = tty ? '\u001b[31mDIFF\u001b[0m' : 'DIFF';
  return [`  ${mark}  ${name} (${o.result})`, ...o.differences.map((d) => `          ${safeText(d)}`)].join(
    '\n',
  );
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
  let transport: Transport;
  let close = async (): Promise<void> => undefined;
  if (options.url) {
    const { HttpUpstream } = await import('../transport/httpUpstream.js');
    const http = new HttpUpstream({
      url: options.url,
      headers: options.headers,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      logger: options.logger,
    });
    transport = http.create();
    close = () => http.close();
  } else {
    const [command, ...args] = options.command;
    if (!command) {
      throw new McpscopeError(
        'CONFIG_INVALID',
        '--against needs the server command after --, e.g. mcpscope replay TAPE --against -- node server.js (or --against-url URL)',
      );
    }
    transport = new StdioClientTransport({
      spec: { command, args },
      processes,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      logger: options.logger,
    });
  }
  const tty = process.stdout.isTTY === true;
  const target = options.url ?? options.command.join(' ');
  if (!options.json) console.log(`replaying ${safeText(tape.header.id)} against ${safeText(target)}`);
  try {
    const report = await replayAgainst(tape, transport, {
      timeoutMs: options.timeoutMs,
      ignore: options.ignore,
      onProgress: (done, total, outcome) => {
        if (!options.json) console.log(line(outcome, tty));
        else if (process.stderr.isTTY)
          process.stderr.write(`\r${done}/${total}${done === total ? '\n' : ''}`);
      },
    });
    const differing = report.outcomes.filter((o) => o.result !== 'same').length;
    if (options.json) {
      console.log(safeJson(report, 2));
    } else {
      if (report.aborted) console.log(`stopped early: ${safeText(report.aborted)}`);
      console.log(
        `${report.requests} requests: ${report.outcomes.length - differing} same, ${differing} different` +
          (report.outcomes.length < report.requests
            ? `, ${report.requests - report.outcomes.length} not sent`
            : ''),
      );
    }
    return report.ok ? 0 : 1;
  } finally {
    await transport.close();
    await processes.stopAll();
    await close();
  }
}
