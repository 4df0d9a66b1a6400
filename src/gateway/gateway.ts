/**
 * `mcpscope gateway`: what the proxy needs to put several upstreams behind one endpoint. Built once (each
 * upstream's factory: a stdio command run once per client session, or a remote URL with its own headers,
 * detected as Streamable HTTP, legacy SSE or WebSocket as `--upstream` is; `bridge: auto` wraps it in the
 * era bridge), then one AggregateTransport per client session. Loaded only by the gateway.
 */
import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import type { Frame } from '../jsonrpc/framing.js';
import { commandProblem, type ProcessManager } from '../process/processManager.js';
import type { Session } from '../session/session.js';
import type { HttpUpstream } from '../transport/httpUpstream.js';
import { StdioClientTransport, type RestartPolicy } from '../transport/stdioClient.js';
import type { Transport } from '../transport/transport.js';
import { AggregateTransport } from './aggregate.js';
import type { UpstreamConfig } from './config.js';
import type { UpstreamDef } from './member.js';
import { NameFilter, NameRouter } from './names.js';

/** The gateway as the proxy is given it (ProxyOptions.upstream): see src/gateway/config.ts. */
export interface GatewayOptions {
  upstreams: ReadonlyArray<{ name: string } & UpstreamConfig>;
  /** Default '__'. */
  separator?: string;
  /** Default DEFAULT_UPSTREAM_TIMEOUT_MS. */
  upstreamTimeoutMs?: number;
}

export interface GatewayBuild {
  processes: ProcessManager;
  maxMessageBytes: number;
  logger: Logger;
  restart: RestartPolicy | null;
  /** Whether an upstream's circuit breaker is open. */
  circuitOpen?: (upstream: string) => boolean;
}

export function describeUpstreamConfig(upstream: UpstreamConfig): string {
  return 'url' in upstream ? upstream.url : upstream.command.join(' ');
}

export class Gateway {
  readonly upstreams: readonly UpstreamDef[];
  readonly #router: NameRouter<number>;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #circuitOpen: ((upstream: string) => boolean) | undefined;
  readonly #remotes: HttpUpstream[];

  private constructor(
    upstreams: UpstreamDef[],
    router: NameRouter<number>,
    timeoutMs: number,
    build: GatewayBuild,
    remotes: HttpUpstream[],
  ) {
    this.upstreams = upstreams;
    this.#router = router;
    this.#timeoutMs = timeoutMs;
    this.#logger = build.logger;
    this.#circuitOpen = build.circuitOpen;
    this.#remotes = remotes;
  }

  /**
   * Check the commands (a mistyped one is a usage error now, not at the first client) and build each
   * upstream's factory; HTTP clients and the bridge are loaded only when an upstream needs them.
   */
  static async create(options: GatewayOptions, build: GatewayBuild): Promise<Gateway> {
    const { DEFAULT_UPSTREAM_TIMEOUT_MS, DEFAULT_SEPARATOR } = await import('./config.js');
    const { processes, maxMessageBytes, logger, restart } = build;
    const remotes: HttpUpstream[] = [];
    const needsBridge = options.upstreams.some((u) => u.bridge === 'auto');
    const bridge = needsBridge ? await import('../bridge/bridge.js') : undefined;
    const codec = needsBridge
      ? new (await import('../bridge/requestState.js')).RequestStateCodec()
      : undefined;
    const HttpUpstreamClass = options.upstreams.some((u) => 'url' in u)
      ? (await import('../transport/httpUpstream.js')).HttpUpstream
      : undefined;
    const defs: UpstreamDef[] = options.upstreams.map((u) => {
      let create: () => Transport;
      if ('url' in u) {
        const remote = new (HttpUpstreamClass as typeof HttpUpstream)({
          url: u.url,
          headers: u.headers,
          transport: u.transport,
          maxMessageBytes,
          logger: logger.child({ upstream: u.name }),
        });
        remotes.push(remote);
        create = () => remote.create();
      } else {
        const [command, ...args] = u.command as [string, ...string[]];
        const spec = { command, args, env: u.env, cwd: u.cwd };
        const problem = commandProblem(command, { PATH: process.env.PATH, ...u.env });
        if (problem !== undefined) {
          throw new McpscopeError(
            'CONFIG_INVALID',
            `could not start upstream ${u.name} (\`${u.command.join(' ')}\`): ${problem}; check upstreams.${u.name}.command and PATH`,
          );
        }
        const upstreamLogger = logger.child({ upstream: u.name });
        create = () =>
          new StdioClientTransport({ spec, processes, maxMessageBytes, logger: upstreamLogger, restart });
      }
      if (bridge && codec && u.bridge === 'auto') {
        const plain = create;
        create = () => new bridge.BridgeTransport(plain(), { logger, codec });
      }
      return {
        name: u.name,
        description: describeUpstreamConfig(u),
        tools: new NameFilter(u.tools),
        prompts: new NameFilter(u.prompts),
        create,
      };
    });
    const router = new NameRouter(
      options.separator ?? DEFAULT_SEPARATOR,
      new Map(defs.map((d, i) => [d.name, i])),
    );
    return new Gateway(
      defs,
      router,
      options.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
      build,
      remotes,
    );
  }

  /** For people and the Session: `gateway: files (node files.js), search (https://…)`. */
  get description(): string {
    return `gateway: ${this.upstreams.map((u) => `${u.name} (${u.description})`).join(', ')}`;
  }

  /** Some upstream is a command: each client session runs processes of its own. */
  get ownsProcesses(): boolean {
    return this.#remotes.length < this.upstreams.length;
  }

  /** One client session's outbound transport. */
  create(): AggregateTransport {
    return new AggregateTransport({
      upstreams: this.upstreams,
      router: this.#router,
      upstreamTimeoutMs: this.#timeoutMs,
      logger: this.#logger,
      circuitOpen: this.#circuitOpen,
    });
  }

  /** The upstream a client request goes to (for its circuit breaker). */
  upstreamOf(frame: Frame, session: Session): string | undefined {
    return session.outbound instanceof AggregateTransport ? session.outbound.upstreamOf(frame) : undefined;
  }

  /** Every remote upstream answers HTTP (any status), and which do not. */
  async probe(): Promise<{ ready: boolean; reason: string }> {
    const results = await Promise.all(this.#remotes.map((r) => r.probe()));
    const down = results.filter((r) => !r.ready);
    if (down.length === 0)
      return {
        ready: true,
        reason: `listening; ${this.upstreams.length} upstream(s): ${this.upstreams.map((u) => u.name).join(', ')}`,
      };
    // The gateway serves the others: it is ready while one upstream answers, and says which do not.
    return {
      ready: down.length < this.upstreams.length,
      reason: down.map((d) => d.reason).join('; '),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#remotes.map((r) => r.close()));
  }
}
