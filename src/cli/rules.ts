import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { McpscopeError } from '../jsonrpc/errors.js';
import { parseFrame, type Frame } from '../jsonrpc/framing.js';
import { silentLogger } from '../log.js';
import type { Direction, Verdict } from '../pipeline/stage.js';
import type { Session } from '../session/session.js';
import type { InterceptStage } from '../stages/interceptStage.js';
import { safeJson, safeText } from './terminal.js';

// The rules modules (YAML, JSONPath, globs, JSON Patch) load when a rules command runs, not at every start.
const rulesModule = () => import('../intercept/rules.js');

async function usage(err: unknown): Promise<never> {
  const { RulesError } = await rulesModule();
  if (err instanceof RulesError) throw new McpscopeError('CONFIG_INVALID', err.message, { cause: err });
  throw err;
}

function readMessage(path: string, what: string): Frame {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new McpscopeError('CONFIG_INVALID', `${what} ${path} cannot be read: ${(err as Error).message}`);
  }
  try {
    return parseFrame(Buffer.from(text.trim()), Number.MAX_SAFE_INTEGER);
  } catch (err) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `${what} ${path} is not a JSON-RPC message: ${(err as Error).message}`,
    );
  }
}

function describe(verdict: Verdict, frame: Frame): string[] {
  switch (verdict.action) {
    case 'forward':
      return ['forwarded as it is'];
    case 'rewrite':
      return ['forwarded as:', safeJson(verdict.frame.msg)];
    case 'reply':
      return ["answered on the other side's behalf with:", safeText(verdict.frame.raw.toString('utf8'))];
    case 'drop':
      return [
        `dropped (${verdict.reason})${frame.kind === 'request' ? ': the client gets no answer from it' : ''}`,
      ];
  }
}

export function rulesCommand(): Command {
  const cmd = new Command('rules').description('check interception rules files, and try them on a message');
  cmd
    .command('check')
    .description('validate a rules file: exits 0 when valid, 2 with the problems when not')
    .argument('<file>', 'the rules file (YAML or JSON)')
    .action(async (file: string) => {
      const { actionOf, loadRules, RulesError } = await rulesModule();
      let rules;
      try {
        rules = loadRules(file);
      } catch (err) {
        if (!(err instanceof RulesError)) throw err;
        // One problem a line, each naming the rule, the key and what was expected.
        console.error(`${safeText(file)}: not valid`);
        for (const problem of err.problems) console.error(`  ${safeText(problem)}`);
        process.exit(2);
      }
      console.log(`${safeText(file)}: ${rules.length} rule${rules.length === 1 ? '' : 's'}, valid`);
      for (const [i, rule] of rules.entries()) {
        const flags = [rule.enabled ? '' : 'disabled', rule.times === undefined ? '' : `${rule.times} times`]
          .filter(Boolean)
          .join(', ');
        console.log(
          `  ${i + 1}. ${safeText(rule.name)}: ${actionOf(rule.action)}${flags ? ` (${flags})` : ''}`,
        );
      }
    });
  cmd
    .command('test')
    .description('print which rule would act on a message, and what would come out')
    .argument('<file>', 'the rules file (YAML or JSON)')
    .requiredOption('--message <file>', 'the message, a JSON-RPC message in a file (- for stdin)')
    .option('--request <file>', 'for an answer: the request it answers (its method and tool)')
    .option(
      '--direction <direction>',
      'request (client to server) or response (server to client); default: from the message',
    )
    .option('--session <name>', "the client's name, for rules that match on session")
    .action(
      async (
        file: string,
        opts: { message: string; request?: string; direction?: string; session?: string },
      ) => {
        const { InterceptStage } = await import('../stages/interceptStage.js');
        let stage: InterceptStage;
        try {
          stage = new InterceptStage({
            file,
            watch: false,
            upstreamName: 'upstream',
            metrics: null,
            logger: silentLogger(),
            holdTimeoutMs: Number.MAX_SAFE_INTEGER,
          });
        } catch (err) {
          return usage(err);
        }
        const frame = readMessage(opts.message, '--message');
        if (opts.request !== undefined) {
          const request = readMessage(opts.request, '--request');
          frame.related = {
            id: request.id ?? 0,
            method: request.method ?? '',
            target: ((request.msg as { params?: { name?: unknown; uri?: unknown } }).params?.name ??
              (request.msg as { params?: { uri?: unknown } }).params?.uri) as string | undefined,
            progressToken: undefined,
            startedAt: 0,
            streaming: false,
            upstream: undefined,
            route: undefined,
            trace: undefined,
          };
        }
        if (opts.direction !== undefined && opts.direction !== 'request' && opts.direction !== 'response') {
          throw new McpscopeError(
            'CONFIG_INVALID',
            `--direction must be request or response, not ${opts.direction}`,
          );
        }
        const direction: Direction =
          (opts.direction ??
            (frame.kind === 'response' || frame.kind === 'error' ? 'response' : 'request')) === 'request'
            ? 'client-to-server'
            : 'server-to-client';
        const session = { id: 'rules-test', clientInfo: opts.session ? { name: opts.session } : undefined };
        const result = stage.transform(frame, session as unknown as Session, direction);
        const made =
          result instanceof Promise || result.action === 'forward' || result.action === 'drop'
            ? undefined
            : result.frame;
        const acted = frame.intercept ?? made?.intercept;
        const lines: string[] = [];
        if (acted === undefined && !(result instanceof Promise) && result.action === 'forward') {
          lines.push('no rule acts on this message: forwarded as it is');
        } else {
          const rule = acted?.rule ?? (result instanceof Promise ? 'a rule' : '?');
          lines.push(`rule "${safeText(rule)}" acts: ${safeText(acted?.action ?? '')}`);
          if (result instanceof Promise) {
            lines.push(
              acted?.action === 'delay'
                ? 'held for the rule’s delay, then forwarded'
                : 'held at a breakpoint until a person lets it go (admin API) or --breakpoint-timeout-ms',
            );
          } else {
            lines.push(...describe(result, frame));
          }
        }
        stage.close();
        console.log(lines.join('\n'));
        // A delay's timer must not keep the command waiting.
        process.exit(0);
      },
    );
  return cmd;
}
