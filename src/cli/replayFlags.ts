// Flags `mcpscope replay` accepts that would do nothing in the way it runs: refused (exit 2), not ignored.
import { Option, type Command } from 'commander';
import type { ConfigKey } from '../config/schema.js';
import { SETTINGS, type Setting } from '../config/settings.js';
import { McpscopeError } from '../jsonrpc/errors.js';

/** How a replay runs: standing in for a server over stdio or HTTP, or re-sending a tape to a live one. */
export type ReplayMode = 'stdio' | 'http' | 'against' | 'against-url';

/** Settings that never act on a tape standing in for a server, and why. */
const NOT_ON_A_TAPE: Partial<Record<ConfigKey, string>> = {
  upstreamTransport: 'the tape is the upstream',
  upstreamHeaders: 'the tape is the upstream (the flag goes with --against-url)',
  graceMs: 'replay starts no server process',
  restart: 'replay starts no server process',
  maxRestarts: 'replay starts no server process',
  breaker: 'replay has no circuit breaker (a tape does not fail)',
  breakerFailures: 'replay has no circuit breaker (a tape does not fail)',
  breakerErrorRate: 'replay has no circuit breaker (a tape does not fail)',
  breakerWindowMs: 'replay has no circuit breaker (a tape does not fail)',
  breakerMinRequests: 'replay has no circuit breaker (a tape does not fail)',
  breakerResetMs: 'replay has no circuit breaker (a tape does not fail)',
  tapeQueueBytes: 'replayed traffic is never recorded',
};

/**
 * The settings of `forward` that replay never uses, as hidden options of `replay` (no --help line, no
 * variable read): given on its command line, each is refused with the reason rather than as unknown.
 */
export function forwardOnlyOptions(): Array<[ConfigKey, Option]> {
  const out: Array<[ConfigKey, Option]> = [];
  for (const key of Object.keys(NOT_ON_A_TAPE) as ConfigKey[]) {
    const setting: Setting = SETTINGS[key as keyof typeof SETTINGS];
    if (setting.flag === undefined || setting.commands.includes('replay')) continue;
    out.push([key, new Option(setting.flag, setting.help).hideHelp()]);
  }
  return out;
}

/** What --against runs with of the settings: its logging, and --against-url's headers. */
const AGAINST_USES = new Set<ConfigKey>(['logLevel', 'logFile', 'upstreamHeaders']);

/** replay's own flags, by the modes they act in. */
const OWN_FLAGS: Record<string, { modes: readonly ReplayMode[]; why: string }> = {
  speed: { modes: ['stdio', 'http'], why: '--against re-sends the tape as fast as the server answers' },
  match: { modes: ['stdio', 'http'], why: '--against compares answers, it matches no requests' },
  ignore: { modes: ['against', 'against-url'], why: 'it only goes with --against' },
  timeoutMs: { modes: ['against', 'against-url'], why: 'it only goes with --against' },
  json: { modes: ['against', 'against-url'], why: 'it only goes with --against' },
  failOn: { modes: ['against', 'against-url'], why: 'it only goes with --against' },
};

/** Why a setting does nothing in `mode`, or undefined when it acts there. */
function settingUnused(key: ConfigKey, mode: ReplayMode): string | undefined {
  if (mode === 'against' || mode === 'against-url') {
    if (key === 'upstreamHeaders') return mode === 'against' ? 'it goes with --against-url' : undefined;
    return AGAINST_USES.has(key) ? undefined : '--against runs no proxy, only a client of the live server';
  }
  const notOnTape = NOT_ON_A_TAPE[key];
  if (notOnTape) return notOnTape;
  const setting: Setting = SETTINGS[key as keyof typeof SETTINGS];
  const httpOnly = !setting.commands.includes('forward stdio');
  if (mode === 'stdio' && httpOnly && key !== 'port') return 'replay listens on HTTP only with --port';
  return undefined;
}

/**
 * Refuse flags given on the command line that would do nothing in `mode`, naming each and why (a usage
 * error: exit 2). The same settings from MCPSCOPE_* variables or a config file are not refused: those are
 * often shared with `forward`.
 */
export function refuseUnusedFlags(
  cmd: Command,
  settings: ReadonlyArray<readonly [ConfigKey, Option]>,
  mode: ReplayMode,
): void {
  const given = (option: Option): boolean => cmd.getOptionValueSource(option.attributeName()) === 'cli';
  const problems: string[] = [];
  const where = mode === 'against' || mode === 'against-url' ? 'with --against' : 'in replay';
  for (const [key, option] of settings) {
    const why = given(option) ? settingUnused(key, mode) : undefined;
    if (why) problems.push(`${option.long ?? option.flags} does nothing ${where}: ${why}`);
  }
  for (const option of cmd.options) {
    const own = OWN_FLAGS[option.attributeName()];
    if (own && given(option) && !own.modes.includes(mode))
      problems.push(`${option.long ?? option.flags} does nothing ${where}: ${own.why}`);
  }
  if (problems.length > 0)
    throw new McpscopeError(
      'CONFIG_INVALID',
      `${problems.join('; ')}. Leave ${problems.length > 1 ? 'them' : 'it'} out`,
    );
}
