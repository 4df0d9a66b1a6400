import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { McpscopeError } from './jsonrpc/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './jsonrpc/framing.js';
import { silentLogger } from './log.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { Stage } from './pipeline/stage.js';
import { ProcessManager } from './process/processManager.js';
import { SessionManager } from './session/sessionManager.js';
import { LogMessagesStage } from './stages/logMessages.js';
import { HttpListener, type UpstreamFactory } from './transport/httpListener.js';
import { StdioClientTransport } from './transport/stdioClient.js';
import { StdioServerTransport } from './transport/stdioServer.js';
import { StreamableHttpClientTransport } from './transport/streamableHttpClient.js';

export type UpstreamOptions =
  | { command: string; args?: readonly string[]; env?: NodeJS.ProcessEnv; cwd?: string }
  | { url: string; headers?: Record<string, string> };

export interface ProxyOptions {
  /** Where clients connect: 'stdio' (our stdin/stdout) or 'http' (Streamable HTTP). */
  inbound: 'stdio' | 'http';
  /** The real server: a command to spawn (one per session) or a Streamable HTTP URL. */
  upstream: UpstreamOptions;
  /** Listen address for 'http'. Default 127.0.0.1. */
  host?: string;
  /** Listen port for 'http'; 0 picks a free one. Default 8080. */
  port?: number;
  /** Endpoint path for 'http'. Default '/mcp'. */
  path?: string;
  /** Origins allowed besides localhost ones ('*' for any). Default none. */
  allowedOrigins?: readonly string[];
  /** Answer POSTed requests with JSON instead of SSE (related messages then use the GET stream). Default false. */
  jsonResponse?: boolean;
  /** Largest accepted message in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Per-request timeout in ms. Default 60,000. */
  requestTimeoutMs?: number;
  /** Idle session expiry in ms (0 = never). Default 30 min. */
  sessionIdleMs?: number;
  /** Concurrent session cap. Default 10,000. */
  maxSessions?: number;
  /** SIGTERM → SIGKILL grace for children, in ms. Default 5,000. */
  graceMs?: number;
  /** Log one line per message (method, id, size). Default false. */
  logMessages?: boolean;
  /** Extra pipeline stages, run after the built-in ones, in order. */
  stages?: readonly Stage[];
  /** Default: a silent logger. */
  logger?: Logger;
  /** For 'stdio': the client's streams. Default process.stdin / fd 1. */
  stdio?: { input?: Readable; output?: Writable };
}

export interface ProxyHandle {
  /** The endpoint clients connect to ('http' only). */
  readonly url: string | undefined;
  readonly sessions: SessionManager;
  readonly pipeline: Pipeline;
  /**
   * Resolves when a stdio proxy's session ends, with the exit code mcpscope should exit with (the child's,
   * when it died); for 'http', when close() completes, with 0.
   */
  readonly done: Promise<number>;
  close(): Promise<void>;
}

function describeUpstream(upstream: UpstreamOptions): string {
  return 'url' in upstream ? upstream.url : [upstream.command, ...(upstream.args ?? [])].join(' ');
}

/** Build the stage list, in the one place where its order is written. */
function buildStages(options: ProxyOptions, logger: Logger): Stage[] {
  const stages: Stage[] = [];
  if (options.logMessages) stages.push(new LogMessagesStage(logger));
  if (options.stages) stages.push(...options.stages);
  return stages;
}

/** Build and start a proxy: the same pipeline whatever the ends. */
export async function createProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const logger = options.logger ?? silentLogger();
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const pipeline = new Pipeline(buildStages(options, logger), logger);
  const sessions = new SessionManager({
    pipeline,
    logger,
    requestTimeoutMs: options.requestTimeoutMs,
    sessionIdleMs: options.inbound === 'stdio' ? 0 : options.sessionIdleMs,
    maxSessions: options.maxSessions,
  });
  const processes = new ProcessManager({ logger, graceMs: options.graceMs });
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
  const upstream = options.upstream;
  const factory: UpstreamFactory = {
    description: describeUpstream(upstream),
    create: () =>
      'url' in upstream
        ? new StreamableHttpClientTransport({
            url: upstream.url,
            headers: upstream.headers,
            maxMessageBytes,
            dispatcher,
            logger,
          })
        : new StdioClientTransport({
            spec: {
              command: upstream.command,
              args: upstream.args ?? [],
              env: upstream.env,
              cwd: upstream.cwd,
            },
            processes,
            maxMessageBytes,
            logger,
          }),
  };

  const listener =
    options.inbound === 'http'
      ? new HttpListener({
          host: options.host ?? '127.0.0.1',
          port: options.port ?? 8080,
          path: options.path,
          allowedOrigins: options.allowedOrigins ?? [],
          maxMessageBytes,
          jsonResponse: options.jsonResponse ?? false,
          sessions,
          upstream: factory,
          logger,
        })
      : undefined;

  let closing: Promise<void> | undefined;
  let exitCode = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await listener?.close();
      await sessions.closeAll();
      await processes.stopAll();
      await dispatcher.close().catch(() => undefined);
      resolveDone(exitCode);
    })();
    return closing;
  };

  if (!listener) {
    // stdio: one session for the life of the process.
    const inbound = new StdioServerTransport({
      input: options.stdio?.input,
      output: options.stdio?.output,
      maxMessageBytes,
    });
    const session = await sessions.create(sessions.reserve(), {
      inbound,
      outbound: factory.create(),
      upstream: factory.description,
    });
    session.onClose((reason) => {
      // The child died: exit with its code (1 when it was killed by a signal).
      if (reason?.code === 'UPSTREAM_EXITED') exitCode = (reason.details?.exitCode as number | null) ?? 1;
      void close();
    });
    return { url: undefined, sessions, pipeline, done, close };
  }

  try {
    await listener.listen();
  } catch (err) {
    await close();
    throw err instanceof McpscopeError
      ? err
      : new McpscopeError('CONFIG_INVALID', String(err), { cause: err });
  }
  return { url: listener.url, sessions, pipeline, done, close };
}
