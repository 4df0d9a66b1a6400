// The mcpscope command line (src/cli/main.ts loads it): every command, its flags from the settings table,
// and what runs them. The proxy and the tape tools are loaded by the command that uses them.
import { Command, Option, type CommanderError } from 'commander';
import { readConfigFile, resolveConfig, envName, type GivenValue } from '../config/load.js';
import { configSchema, type Config, type ConfigKey } from '../config/schema.js';
import { SETTING_ENTRIES, list, type SettingCommand } from '../config/settings.js';
import { McpscopeError } from '../jsonrpc/errors.js';
import { createLogger } from '../log.js';
import type { ProxyOptions, UpstreamOptions } from '../proxy.js';
import { VERSION } from '../version.js';
import type { MatchMode } from '../tape/match.js';
import { DEFAULT_TAPE_DIR, resolveTape } from '../tape/store.js';
import type { ChangeKind } from '../tape/drift.js';
import { failOnOption } from './drift.js';
import { forwardOnlyOptions, refuseUnusedFlags } from './replayFlags.js';
import { statsCommand } from './stats.js';
import { rulesCommand } from './rules.js';
import { tapeCommand } from './tape.js';
import { safeText } from './terminal.js';

const defaults = configSchema.parse({});

/**
 * The flags of one command, from the settings table; each also reads its MCPSCOPE_* variable, and --help
 * shows both and the default.
 */
function settingOptions(command: SettingCommand): Array<[ConfigKey, Option]> {
  const entries: Array<[ConfigKey, Option]> = [];
  for (const [key, setting] of SETTING_ENTRIES) {
    if (setting.flag === undefined || !setting.commands.includes(command)) continue;
    const o = new Option(setting.flag, setting.help).env(envName(key));
    if (setting.parse) o.argParser(setting.parse as (value: string, previous: unknown) => unknown);
    else if (defaults[key] !== undefined) o.default(defaults[key]);
    entries.push([key, o]);
  }
  return entries;
}

/** What flags and MCPSCOPE_* variables gave, with where each came from. */
function givenValues(
  cmd: Command,
  entries: Array<[ConfigKey, Option]>,
): Partial<Record<ConfigKey, GivenValue>> {
  const opts = cmd.opts<Record<string, unknown>>();
  const given: Partial<Record<ConfigKey, GivenValue>> = {};
  for (const [key, option] of entries) {
    const name = option.attributeName();
    const source = cmd.getOptionValueSource(name);
    given[key] = {
      value: opts[name],
      source: source === 'cli' ? 'cli' : source === 'env' ? 'env' : 'default',
      origin: source === 'env' ? envName(key) : (option.long ?? name),
    };
  }
  return given;
}

function settings(cmd: Command, entries: Array<[ConfigKey, Option]>, configPath: string | undefined): Config {
  const file = configPath ? readConfigFile(configPath) : {};
  return resolveConfig(givenValues(cmd, entries), file, configPath);
}

function upstreamFrom(inbound: 'stdio' | 'http', command: string[], config: Config): UpstreamOptions {
  if (config.upstream) {
    if (command.length > 0)
      throw new McpscopeError('CONFIG_INVALID', 'give either --upstream URL or a command, not both');
    if (config.upstreamTransport === 'websocket' && !/^wss?:/.test(config.upstream))
      throw new McpscopeError('CONFIG_INVALID', '--upstream-transport websocket needs a ws:// or wss:// URL');
    return { url: config.upstream, headers: config.upstreamHeaders, transport: config.upstreamTransport };
  }
  const [bin, ...args] = command;
  if (!bin) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `no upstream server: add the server command after --, e.g. mcpscope forward ${inbound} -- node server.js, or pass --upstream URL`,
    );
  }
  return { command: bin, args };
}

function describe(upstream: UpstreamOptions): string {
  if ('tape' in upstream) return `tape ${upstream.tape.tape.path}`;
  if ('gateway' in upstream) return `gateway of ${upstream.gateway.upstreams.map((u) => u.name).join(', ')}`;
  return 'url' in upstream ? upstream.url : [upstream.command, ...(upstream.args ?? [])].join(' ');
}

export async function run(
  inbound: 'stdio' | 'http',
  upstream: UpstreamOptions,
  config: Config,
): Promise<never> {
  const logger = createLogger({ level: config.logLevel, file: config.logFile });
  if (
    inbound === 'http' &&
    config.host !== '127.0.0.1' &&
    config.host !== 'localhost' &&
    config.host !== '::1'
  ) {
    logger.warn(
      { host: config.host },
      'listening beyond loopback: anyone who can reach this address can use the proxy',
    );
  }
  // The standard OpenTelemetry variable works too; mcpscope's own setting wins.
  const otlp = config.otlpEndpoint ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const options: ProxyOptions = {
    inbound,
    upstream,
    host: config.host,
    port: config.port,
    path: config.path,
    allowedOrigins: config.allowedOrigins,
    allowedHosts: config.allowedHosts,
    httpHeadersTimeoutMs: config.httpHeadersTimeoutMs,
    httpBodyTimeoutMs: config.httpBodyTimeoutMs,
    sseKeepaliveMs: config.sseKeepaliveMs,
    jsonResponse: config.jsonResponse,
    legacySse: config.legacySse,
    webSocket: config.websocket,
    maxMessageBytes: config.maxMessageBytes,
    clientBufferBytes: config.clientBufferBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    sessionIdleMs: config.sessionIdleMs,
    maxSessions: config.maxSessions,
    processIdleMs: config.processIdleMs,
    maxProcesses: config.maxProcesses,
    graceMs: config.graceMs,
    shutdownGraceMs: config.shutdownGraceMs,
    breaker: config.breaker
      ? {
          failures: config.breakerFailures,
          errorRate: config.breakerErrorRate,
          windowMs: config.breakerWindowMs,
          minRequests: config.breakerMinRequests,
          resetMs: config.breakerResetMs,
        }
      : false,
    rateLimits:
      config.rateLimitGlobal ||
      config.rateLimitClient ||
      config.rateLimitTool ||
      Object.keys(config.rateLimitTools).length > 0
        ? {
            global: config.rateLimitGlobal,
            client: config.rateLimitClient,
            clientKey: config.rateLimitClientKey,
            tool: config.rateLimitTool,
            tools: config.rateLimitTools,
          }
        : null,
    // Loaded only when asked for: the resource server and its JOSE library stay out of other runs.
    auth:
      config.auth === undefined
        ? undefined
        : await (await import('../auth/options.js')).loadAuthOptions(config.auth),
    logMessages: config.logMessages,
    redaction: {
      enabled: config.redact,
      paths: config.redactPaths,
      patterns: config.redactPatterns,
      headers: config.redactHeaders,
    },
    record: config.record
      ? {
          dir: config.record,
          maxQueueBytes: config.tapeQueueBytes,
        }
      : null,
    upstreamName: config.upstreamName,
    bridge: config.bridge,
    rules: config.rules === undefined ? undefined : { file: config.rules },
    breakpointTimeoutMs: config.breakpointTimeoutMs,
    restart: config.restart === 'on-failure' ? { maxRestarts: config.maxRestarts } : null,
    tracing: otlp ? { endpoint: otlp, sampleRatio: config.traceSampleRatio } : null,
    feed: config.feed
      ? {
          events: config.feedEvents,
          closedSessions: config.feedClosedSessions,
          bodyBytes: config.feedBodyBytes,
        }
      : false,
    metrics: config.metrics
      ? {
          prefix: config.metricsPrefix,
          buckets: config.metricsBuckets,
          cardinalityLimit: config.metricsCardinalityLimit,
        }
      : false,
    admin: config.admin
      ? {
          host: config.adminHost,
          port: config.adminPort,
          token: config.adminToken,
          statsBucketMs: config.statsBucketMs,
          metricsPath: config.metricsPath,
          metricsIntervalMs: config.metricsIntervalMs,
        }
      : false,
    logger,
  };
  const { createProxy } = await import('../proxy.js');
  const proxy = await createProxy(options);
  if (config.record) {
    logger.info({ dir: config.record, redact: config.redact }, 'recording every session to a tape');
    if (!config.redact)
      logger.warn('--no-redact: tapes will hold secrets (tokens, passwords) exactly as they were sent');
  }
  if (proxy.url) {
    const target = describe(upstream);
    console.error(`mcpscope ${VERSION}: MCP endpoint ${proxy.url} → ${target}`);
    if (proxy.adminUrl) {
      console.error(`Metrics: ${proxy.adminUrl}${config.metricsPath}, health: ${proxy.adminUrl}/health`);
      // The token itself is never printed (stderr may be logged; test/hardening/sessions.test.ts 14): the page
      // takes it once from its URL and swaps it for a cookie (src/admin/adminServer.ts).
      const token = config.adminToken ? ' (open it once as /?token=<the --admin-token value>)' : '';
      console.error(`DevTools: ${proxy.adminUrl}/${token}`);
    }
    const also = [
      config.websocket ? 'WebSocket on the same URL' : '',
      config.legacySse ? `legacy SSE at ${new URL('/sse', proxy.url).href}` : '',
    ].filter(Boolean);
    console.error(
      `Connect an MCP client (Streamable HTTP${also.length ? `; ${also.join('; ')}` : ''}) to that URL. Ctrl-C stops.`,
    );
    logger.info({ url: proxy.url, upstream: target }, 'listening');
  }
  // First signal: a graceful stop (in-flight requests get --shutdown-grace-ms); a second one: stop now.
  let signals = 0;
  const stop = (signal: string): void => {
    signals++;
    if (signals === 1) {
      logger.info(
        { signal, graceMs: config.shutdownGraceMs },
        'stopping gracefully (send it again to stop now)',
      );
      void proxy.shutdown();
      return;
    }
    logger.warn({ signal }, 'stopping now');
    void proxy.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await proxy.done;
  logger.flush();
  process.exit(code);
}

function forwardCommand(inbound: 'stdio' | 'http'): Command {
  const cmd = new Command(inbound)
    .description(
      inbound === 'stdio'
        ? 'run in place of a stdio MCP server: spawn it (or reach a remote --upstream URL) and relay through mcpscope'
        : 'expose a stdio server (spawned per session) or a remote --upstream as a Streamable HTTP endpoint',
    )
    .argument('[command...]', 'upstream server command, after -- (or --upstream URL)')
    .option('-c, --config <file>', 'JSON config file (keys are the camelCase setting names)')
    .passThroughOptions()
    .addHelpText(
      'after',
      inbound === 'stdio'
        ? '\nExamples (in an MCP client config):\n  "command": "npx", "args": ["mcpscope", "forward", "stdio", "--", "node", "server.js"]\n  "command": "npx", "args": ["mcpscope", "forward", "stdio", "--upstream", "https://host/mcp"]'
        : '\nExamples:\n  mcpscope forward http --port 8080 -- node server.js\n  mcpscope forward http --port 8080 --upstream https://host/mcp\n  mcpscope forward http --port 8080 --upstream ws://host/ws',
    );
  const entries = settingOptions(inbound === 'http' ? 'forward http' : 'forward stdio');
  for (const [, o] of entries) cmd.addOption(o);
  cmd.action(async (command: string[], _opts: unknown, self: Command) => {
    const config = settings(self, entries, self.opts<{ config?: string }>().config);
    await run(inbound, upstreamFrom(inbound, command, config), config);
  });
  return cmd;
}

function gatewayCommand(): Command {
  const cmd = new Command('gateway')
    // The reverse proxy: one HTTP endpoint in front of upstream servers (the command's first name).
    .alias('reverse')
    .description(
      'one MCP endpoint in front of several servers (stdio commands and remote URLs), their tools, prompts and resource templates named <upstream>__<name>',
    )
    .requiredOption(
      '-c, --config <file>',
      'the gateway config (YAML or JSON): listen, separator, upstreams, and any setting by its config key; ${NAME} expands environment variables',
    )
    .addHelpText(
      'after',
      '\nExample:\n  mcpscope gateway --config examples/gateway.yaml\n\nFlags and MCPSCOPE_* variables win over the file. See docs/gateway.md.',
    );
  const entries = settingOptions('gateway');
  for (const [, o] of entries) cmd.addOption(o);
  cmd.action(async (_opts: unknown, self: Command) => {
    const path = self.opts<{ config: string }>().config;
    const { loadGatewayConfig } = await import('../gateway/config.js');
    const gateway = loadGatewayConfig(path);
    // The auth block is the `auth` setting's value (src/auth validates it); --auth-config wins over it.
    const file = { ...gateway.settings, ...gateway.listen, ...(gateway.auth ? { auth: gateway.auth } : {}) };
    const config = resolveConfig(givenValues(self, entries), file, path);
    await run(
      'http',
      {
        gateway: {
          upstreams: gateway.upstreams,
          separator: gateway.separator,
          upstreamTimeoutMs: gateway.upstreamTimeoutMs,
        },
      },
      config,
    );
  });
  return cmd;
}

function replayCommand(): Command {
  const cmd = new Command('replay')
    .description(
      'stand in for a server by replaying a tape (stdio, or HTTP with --port), or re-send it --against a live server',
    )
    .argument('<tape>', 'a tape file, an id (or its prefix) in --dir, or latest')
    .argument('[command...]', 'with --against: the live server command, after --')
    .option('-c, --config <file>', 'JSON config file (keys are the camelCase setting names)')
    .option('--dir <dir>', 'where tapes named by id are looked up', DEFAULT_TAPE_DIR)
    .option('--speed <factor>', '0 answers at once; 1 at the recorded pace; 2 twice as fast', '0')
    .addOption(
      new Option('--match <mode>', 'strict: params must be equal; lenient: same method and tool is enough')
        .choices(['lenient', 'strict'])
        .default('lenient'),
    )
    .option(
      '--against',
      're-send the tape to the server command after -- and report every answer that differs',
    )
    .option('--against-url <url>', 're-send the tape to this Streamable HTTP server instead')
    .option('--ignore <path>', 'with --against: leave this path out of comparisons (repeatable)', list)
    .option('--timeout-ms <ms>', 'with --against: time the live server gets per request', '30000')
    .option('--json', 'with --against: print the report as JSON', false)
    .addOption(failOnOption())
    .addHelpText(
      'after',
      '\nExamples:\n  mcpscope replay ./tapes/20261125T101502Z-1a2b3c4d.tape.jsonl\n' +
        '  mcpscope replay latest --port 8080 --speed 1\n' +
        '  mcpscope replay latest --against -- node server.js',
    );
  const entries = settingOptions('replay');
  for (const [, o] of entries) cmd.addOption(o);
  const forwardOnly = forwardOnlyOptions();
  for (const [, o] of forwardOnly) cmd.addOption(o);
  cmd.action(async (arg: string, command: string[], _opts: unknown, self: Command) => {
    const opts = self.opts<{
      config?: string;
      dir: string;
      speed: string;
      match: MatchMode;
      against?: boolean;
      againstUrl?: string;
      ignore?: string[];
      timeoutMs: string;
      json: boolean;
      failOn: ChangeKind;
    }>();
    const source = self.getOptionValueSource('port');
    const listens = source === 'cli' || source === 'env';
    const mode = opts.againstUrl ? 'against-url' : opts.against ? 'against' : listens ? 'http' : 'stdio';
    refuseUnusedFlags(self, [...entries, ...forwardOnly], mode);
    const config = settings(self, entries, opts.config);
    const path = await resolveTape(arg, opts.dir);
    if (opts.against || opts.againstUrl) {
      const logger = createLogger({ level: config.logLevel, file: config.logFile });
      const { againstCommand } = await import('./replay.js');
      const code = await againstCommand(path, {
        command,
        url: opts.againstUrl,
        headers: config.upstreamHeaders,
        timeoutMs: Number(opts.timeoutMs),
        ignore: opts.ignore ?? [],
        json: opts.json,
        failOn: opts.failOn,
        logger,
      });
      process.exit(code);
    }
    if (command.length > 0)
      throw new McpscopeError(
        'CONFIG_INVALID',
        'a server command only goes with --against; replay needs no server',
      );
    const speed = Number(opts.speed);
    if (!Number.isFinite(speed) || speed < 0)
      throw new McpscopeError(
        'CONFIG_INVALID',
        `--speed must be 0 or a positive factor, got "${opts.speed}"`,
      );
    const { readTape } = await import('../tape/tapeReader.js');
    const { TapeScript } = await import('../tape/tapeScript.js');
    const tape = await readTape(path);
    if (tape.torn)
      console.error(
        `note: ${safeText(path)} ends in a torn line (recording was cut short); replaying what is whole`,
      );
    await run(
      listens ? 'http' : 'stdio',
      { tape: new TapeScript(tape), player: { speed, match: opts.match } },
      { ...config, record: undefined },
    );
  });
  return cmd;
}

const program = new Command('mcpscope')
  .description('DevTools for MCP: see, record, replay, shape and measure Model Context Protocol traffic')
  .version(VERSION)
  .enablePositionalOptions()
  .showHelpAfterError();

program
  .command('forward')
  .description('forward proxy: put mcpscope between an MCP client and a server')
  .enablePositionalOptions()
  .addCommand(forwardCommand('stdio'))
  .addCommand(forwardCommand('http'));

program.addCommand(gatewayCommand());
program.addCommand(replayCommand());
program.addCommand(tapeCommand());
program.addCommand(statsCommand());
program.addCommand(rulesCommand());
program.addHelpText(
  'after',
  `
Exit codes:
  0  done (forward stdio: the server's own exit code when it exits, 1 when it was killed by a signal)
  1  a failure while running (the upstream could not be reached, a tape could not be read, …)
  2  a usage error: an unknown command or flag, a missing or invalid value, an invalid config file`,
);

/** Usage errors exit 2, whatever the command: commander's own default would be 1. */
function usageErrorsExit2(command: Command): void {
  command.exitOverride((err: CommanderError) => {
    // --help and --version end well; help shown for a missing command is a usage error like the others.
    const done = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
    process.exit(done ? 0 : 2);
  });
  for (const sub of command.commands) usageErrorsExit2(sub);
}
usageErrorsExit2(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof McpscopeError) {
    console.error(`mcpscope: ${safeText(err.message)}`);
    process.exit(err.code === 'CONFIG_INVALID' ? 2 : 1);
  }
  // Messages can quote what a peer or a tape said (a tape's damaged line, an admin API's answer).
  console.error(`mcpscope: ${safeText(err instanceof Error ? err.message : err)}`);
  process.exit(1);
});
