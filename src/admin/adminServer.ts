import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Metrics } from '../observe/metrics.js';
import { expositionFormat } from '../observe/exposition.js';
import { openApiDocument } from './openapi.js';
import type { StatsApi } from './statsApi.js';
import { MAX_FEED_PAGE, type Feed } from './feed.js';
import { LOOPBACK_HOSTS, checkOrigin, type OriginPolicy } from '../transport/originCheck.js';
import { readBody } from '../transport/httpBody.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../jsonrpc/framing.js';
import { BreakpointsApi, type AdminAnswer } from './breakpointsApi.js';
import { DevtoolsPage } from './devtools.js';
import { RulesApi } from './rulesApi.js';
import type { TapesApi } from './tapesApi.js';
import type { Redactor } from '../tape/redact.js';

/** An admin API whose routes may change things (POST, DELETE): breakpoints, held messages, rules. */
interface ChangesApi {
  handle(method: string, path: string, body: unknown): AdminAnswer;
}

/** The admin API's own rate limit: a token bucket of this many requests per second, and this burst. */
export const ADMIN_RATE_PER_S = 50;
export const ADMIN_BURST = 100;

export { DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT } from './adminDefaults.js';
/** Interval of keep-alive comments on live feed streams (25 s). */
export const FEED_KEEPALIVE_MS = 25_000;
/** Room in an admin POST body beyond the message it may carry (`{ "message": … }`): 64 KiB. */
export const ADMIN_BODY_OVERHEAD_BYTES = 64 * 1024;

export interface ReadyState {
  ready: boolean;
  /** Why not, for people (and for why it is, when that helps). */
  reason: string;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  /** Null when metrics are off: /metrics answers 404 saying so. */
  metrics: Metrics | null;
  /** Default '/metrics'. */
  metricsPath?: string;
  /** Serve the same scrape text for this long (ms) instead of collecting again. Default 0. */
  metricsIntervalMs?: number;
  version: string;
  ready: () => Promise<ReadyState>;
  logger: Logger;
  /** Bearer token every request must carry. Required when `host` is not a loopback address. */
  token?: string | undefined;
  /** The stats API (/stats…, /trends); absent when not wired. */
  stats?: StatsApi | undefined;
  /** The live feed (/sessions, /sessions/{id}/events, /events); absent when off (--no-feed). */
  feed?: Feed | undefined;
  /** Breakpoints and held messages (/breakpoints, /paused…); absent when not wired. */
  breakpoints?: BreakpointsApi | undefined;
  /** Interception rules (/rules…); absent when not wired. */
  rules?: RulesApi | undefined;
  /**
   * Recorded tapes (/tapes…): the --record directory (undefined: not recording, which /tapes says) and
   * the redaction rules its events are shown with. The tapes API is loaded by its first request.
   */
  tapes?: { dir: string | undefined; redactor: Redactor } | undefined;
  /**
   * Largest POST body, bytes (an edited message rides in one). Default DEFAULT_MAX_MESSAGE_BYTES +
   * ADMIN_BODY_OVERHEAD_BYTES.
   */
  maxBodyBytes?: number;
}

/** The cookie that stands for the token in the DevTools page (a random value per process, never the token). */
const PAGE_COOKIE = 'mcpscope_admin';
const SESSION_EVENTS = /^\/sessions\/([^/]{1,200})\/events$/;
const NON_NEGATIVE = /^\d{1,15}$/;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function same(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One cookie's value from a Cookie header. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function send(res: ServerResponse, answer: AdminAnswer): void {
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  if (answer.body === undefined) {
    res.writeHead(answer.status, { 'cache-control': 'no-store' });
    res.end();
  } else json(res, answer.status, answer.body);
}

/**
 * The admin server (separate port): /metrics, /health, /ready, the stats API, the live feed, breakpoints,
 * rules, tapes and the DevTools page. It never writes to stdout and never stops the proxy: when its port is
 * taken it logs one warning and stays off. Everything is read-only but breakpoints, held messages and
 * turning rules on and off (POST, DELETE).
 */
export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #server: Server;
  readonly #metricsPath: string;
  readonly #startedAt = performance.now();
  /** The last scrape of each format, kept for --metrics-interval-ms. */
  readonly #cache = new Map<string, { text: string; at: number }>();
  #listening = false;
  readonly #originPolicy: OriginPolicy;
  readonly #token: Buffer | undefined;
  /** With a token: what the page's cookie carries once the page was opened with ?token= (see #pageLogin). */
  readonly #pageSecret: Buffer | undefined;
  readonly #page = new DevtoolsPage();
  #tapes: TapesApi | undefined;
  #tokens = ADMIN_BURST;
  #keepAlive: NodeJS.Timeout | undefined;
  #refilledAt = performance.now();

  constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#metricsPath = options.metricsPath ?? '/metrics';
    this.#originPolicy = {
      allowedOrigins: [],
      allowedHosts: [],
      loopbackOnly: LOOPBACK_HOSTS.has(options.host),
    };
    this.#token = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;
    this.#pageSecret = options.token ? Buffer.from(randomBytes(24).toString('base64url')) : undefined;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Resolves with the address, or undefined when the port could not be had (logged, not thrown). */
  async listen(): Promise<AddressInfo | undefined> {
    const { host, port, logger } = this.#options;
    if (!this.#originPolicy.loopbackOnly && !this.#token) {
      logger.warn(
        { host },
        `admin server not started: listening on ${host} (beyond loopback) needs --admin-token; proxying goes on`,
      );
      return undefined;
    }
    const ok = await new Promise<boolean>((resolve) => {
      this.#server.once('error', (err: NodeJS.ErrnoException) => {
        logger.warn(
          { port, host, code: err.code },
          `admin server could not listen on ${host}:${port} (${err.code ?? err.message}); metrics, /health and /ready ` +
            'are off for this instance. Pass --admin-port 0 for a free port or --no-admin; proxying goes on',
        );
        resolve(false);
      });
      this.#server.listen(port, host, () => resolve(true));
    });
    if (!ok) return undefined;
    this.#listening = true;
    const feed = this.#options.feed;
    if (feed) {
      this.#keepAlive = setInterval(() => feed.keepAlive(), FEED_KEEPALIVE_MS);
      this.#keepAlive.unref();
    }
    const addr = this.#server.address() as AddressInfo;
    logger.info({ url: this.url }, 'admin server listening');
    return addr;
  }

  get url(): string | undefined {
    if (!this.#listening) return undefined;
    const addr = this.#server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const { breakpoints: bp, rules } = this.#options;
    const changes: ChangesApi | undefined =
      bp && BreakpointsApi.owns(path) ? bp : rules && RulesApi.owns(path) ? rules : undefined;
    // Only a POST to a route that changes things has a body worth reading; any other is discarded (as are
    // those of requests refused below).
    const wantsBody = changes !== undefined && req.method === 'POST';
    if (!wantsBody) req.resume();
    if (!this.#allow()) {
      req.resume();
      res.setHeader('retry-after', '1');
      json(res, 429, { error: `the admin API allows ${ADMIN_RATE_PER_S} requests a second; slow down` });
      return;
    }
    const forbidden = checkOrigin(req.headers.origin, req.headers.host, this.#originPolicy);
    if (forbidden) {
      req.resume();
      json(res, 403, { error: forbidden.message });
      return;
    }
    if (this.#token && path === '/' && q !== -1 && req.method === 'GET') {
      const params = new URLSearchParams(url.slice(q + 1));
      if (params.has('token')) {
        this.#pageLogin(req, res, params.get('token') as string);
        return;
      }
    }
    if (this.#token && !this.#authorized(req)) {
      req.resume();
      res.setHeader('www-authenticate', 'Bearer');
      json(res, 401, { error: 'the admin API needs Authorization: Bearer <the --admin-token value>' });
      return;
    }
    if (changes) {
      this.#changesRoute(changes, req, res, path, wantsBody);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, {
        error: `method ${req.method} is not allowed on ${path}; the admin API is read-only but for /breakpoints, /paused and /rules`,
      });
      return;
    }
    try {
      if (path === this.#metricsPath) await this.#metrics(req, res);
      else if (DevtoolsPage.owns(path)) {
        const file = this.#page.file(path);
        res.writeHead(file.status, file.headers);
        res.end(req.method === 'HEAD' ? undefined : file.body);
      } else if (path === '/health') {
        json(res, 200, {
          status: 'ok',
          uptime_s: Math.round((performance.now() - this.#startedAt) / 1000),
          version: this.#options.version,
        });
      } else if (path === '/openapi.json') {
        json(res, 200, openApiDocument(this.#metricsPath));
      } else if (path === '/ready') {
        const state = await this.#options.ready();
        json(res, state.ready ? 200 : 503, {
          status: state.ready ? 'ready' : 'not_ready',
          reason: state.reason,
        });
      } else if (this.#feedRoute(path, url, q, req, res)) {
        return;
      } else if (this.#options.tapes && (path === '/tapes' || path.startsWith('/tapes/'))) {
        await this.#tapesRoute(path, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)), req, res);
      } else {
        const answer = this.#options.stats?.handle(
          path,
          new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
        );
        if (answer) json(res, answer.status, answer.body);
        else {
          json(res, 404, {
            error: `not found: ${path}`,
            endpoints: [
              '/',
              this.#metricsPath,
              '/health',
              '/ready',
              '/stats',
              '/stats/upstreams',
              '/stats/tools',
              '/stats/sessions',
              '/trends',
              '/sessions',
              '/sessions/{id}/events',
              '/events',
              '/breakpoints',
              '/paused',
              '/rules',
              '/tapes',
            ],
          });
        }
      }
    } catch (err) {
      this.#options.logger.error({ err: (err as Error).message, path }, 'admin request failed');
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.destroy();
    }
  }

  /**
   * The tapes API (loaded by the first request): JSON answers, or an export written a piece at a time as
   * the client takes it.
   */
  async #tapesRoute(
    path: string,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { dir, redactor } = this.#options.tapes as NonNullable<AdminServerOptions['tapes']>;
    this.#tapes ??= new (await import('./tapesApi.js')).TapesApi(dir, redactor);
    const answer = await this.#tapes.handle(path, query);
    if (!('write' in answer)) {
      send(res, answer);
      return;
    }
    res.writeHead(answer.status, answer.headers);
    await answer.write(async (text) => {
      if (res.destroyed) throw new Error('the client went away');
      if (!res.write(text) && !res.destroyed) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    });
    res.end();
  }

  /** Routes that change things: a POST's body is read (bounded) and parsed as JSON first. */
  #changesRoute(
    api: ChangesApi,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    wantsBody: boolean,
  ): void {
    const method = req.method ?? 'GET';
    const answer = (body: unknown): void => {
      try {
        send(res, api.handle(method, path, body));
      } catch (err) {
        this.#options.logger.error({ err: (err as Error).message, path }, 'admin request failed');
        if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      }
    };
    if (!wantsBody) {
      answer(undefined);
      return;
    }
    const max = this.#options.maxBodyBytes ?? DEFAULT_MAX_MESSAGE_BYTES + ADMIN_BODY_OVERHEAD_BYTES;
    readBody(
      req,
      res,
      max,
      (r, err) => json(r, 413, { error: err.message }),
      (raw) => {
        if (raw.length === 0) {
          answer(undefined);
          return;
        }
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (err) {
          json(res, 400, {
            error: `the body is not JSON (${(err as Error).message})`,
            problems: [{ key: 'the body', expected: 'JSON' }],
          });
          return;
        }
        answer(body);
      },
    );
  }

  /** The live feed's routes; false when `path` is not one of them. */
  #feedRoute(path: string, url: string, q: number, req: IncomingMessage, res: ServerResponse): boolean {
    const feedOn = this.#options.feed;
    if (path !== '/sessions' && path !== '/events' && !SESSION_EVENTS.test(path)) return false;
    if (!feedOn) {
      json(res, 404, { error: 'the live feed is off (--no-feed)' });
      return true;
    }
    const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    if (path === '/sessions') {
      json(res, 200, feedOn.sessions());
      return true;
    }
    if (path === '/events') {
      const last = req.headers['last-event-id'];
      if (last !== undefined && (typeof last !== 'string' || !NON_NEGATIVE.test(last))) {
        json(res, 400, {
          error: 'Last-Event-ID must be an event id from this stream',
          parameter: 'Last-Event-ID',
          allowed: 'a whole number',
        });
        return true;
      }
      const session = params.get('session') ?? undefined;
      if (!feedOn.subscribe(res, session, last === undefined ? undefined : Number(last))) {
        res.setHeader('retry-after', '5');
        json(res, 503, { error: 'too many live feed streams are open; close one or retry later' });
      }
      return true;
    }
    const id = decodeURIComponent((SESSION_EVENTS.exec(path) as RegExpExecArray)[1] as string);
    const after = params.get('after') ?? '0';
    const limit = params.get('limit') ?? '100';
    if (!NON_NEGATIVE.test(after)) {
      json(res, 400, {
        error: 'after must be a whole number (an event seq)',
        parameter: 'after',
        allowed: '0 or more',
      });
      return true;
    }
    if (!NON_NEGATIVE.test(limit) || Number(limit) < 1 || Number(limit) > MAX_FEED_PAGE) {
      json(res, 400, {
        error: `limit must be 1 to ${MAX_FEED_PAGE}`,
        parameter: 'limit',
        allowed: `1 to ${MAX_FEED_PAGE}`,
      });
      return true;
    }
    const page = feedOn.page(id, Number(after), Number(limit));
    if (page) json(res, 200, page);
    else
      json(res, 404, { error: `no session ${id} in the live feed (unknown, or closed and no longer kept)` });
    return true;
  }

  /** Token bucket: scrapes and dashboards fit easily; a flood cannot starve the proxy's event loop. */
  #allow(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(ADMIN_BURST, this.#tokens + ((now - this.#refilledAt) / 1000) * ADMIN_RATE_PER_S);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * The token from an Authorization header, or the page's cookie. The cookie rides with any request to this
   * host (other loopback ports are the same site), so it counts only from this origin: with no Origin header
   * (a same-origin GET or EventSource) or with exactly this one; a POST always sends Origin.
   */
  #authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (header !== undefined) return same(Buffer.from(header), this.#token as Buffer);
    const cookie = cookieValue(req.headers.cookie, PAGE_COOKIE);
    if (cookie === undefined || !same(Buffer.from(cookie), this.#pageSecret as Buffer)) return false;
    const origin = req.headers.origin;
    if (origin === undefined) return req.method === 'GET' || req.method === 'HEAD';
    return origin === `http://${req.headers.host ?? ''}`;
  }

  /**
   * `GET /?token=…`: the page is opened once with the token in its URL; a right token is swapped for an
   * HttpOnly, SameSite=Strict cookie and the browser is sent to `/` (the fragment, a deep link, is kept), so
   * the token stays out of later URLs, the page's script and its requests.
   */
  #pageLogin(req: IncomingMessage, res: ServerResponse, given: string): void {
    req.resume();
    if (!same(Buffer.from(`Bearer ${given}`), this.#token as Buffer)) {
      json(res, 401, { error: 'open the page as /?token=<the --admin-token value>' });
      return;
    }
    res.writeHead(303, {
      location: '/',
      'set-cookie': `${PAGE_COOKIE}=${(this.#pageSecret as Buffer).toString()}; HttpOnly; SameSite=Strict; Path=/`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    res.end();
  }

  async #metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const metrics = this.#options.metrics;
    if (!metrics) {
      json(res, 404, { error: 'metrics are disabled (--no-metrics)' });
      return;
    }
    // OpenMetrics (with exemplars) for a scraper that asks for it, as Prometheus does; else the text format.
    const format = expositionFormat(req.headers.accept);
    const interval = this.#options.metricsIntervalMs ?? 0;
    const now = performance.now();
    const cached = this.#cache.get(format);
    let text: string;
    if (cached && interval > 0 && now - cached.at < interval) text = cached.text;
    else {
      text = await metrics.scrape(format);
      this.#cache.set(format, { text, at: now });
    }
    res.writeHead(200, {
      'content-type': metrics.contentType(format),
      'content-length': Buffer.byteLength(text),
      vary: 'Accept',
    });
    res.end(text);
  }

  async close(): Promise<void> {
    this.#options.stats?.close();
    this.#options.feed?.close();
    clearInterval(this.#keepAlive);
    if (!this.#listening) return;
    this.#listening = false;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
