#!/usr/bin/env node
// A gate in front of a Streamable HTTP MCP server that serves both protocol eras (the conformance suite's
// reference server), making it look like a server of one era only, so mcpscope's --bridge auto has something
// to bridge to.
//
//   node test/conformance/eraGate.mjs --only legacy|modern --upstream URL [--port N] [--host H]
//
// Prints "listening <url>" (the gate's URL, with the upstream URL's path) once it listens.
//
// --only legacy: a 2025-era-only server, as an SDK v1 server answers. A POST whose body carries the 2026-07-28
//   envelope (params._meta["io.modelcontextprotocol/protocolVersion"], in any message of a batch), or any
//   request whose MCP-Protocol-Version header names a revision that is not a 2025-era one (2026-07-28 among
//   them), gets HTTP 400 {"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Unsupported
//   protocol version"},"id":null}. Everything else is piped through unchanged.
// --only modern: a 2026-07-28-only server. A POSTed legacy request (no envelope, and no MCP-Protocol-Version
//   header or a 2025-era one: initialize, or anything of a session) gets HTTP 400 -32022 naming the supported
//   versions; a legacy notification or response gets 202 and is dropped; GET and DELETE (the session-era
//   stream and session end) get 405. Requests with the envelope, or with a header that names no 2025-era
//   revision (a malformed modern request, left for the server to judge), are piped through unchanged.
//
// Piped through unchanged means: method, path, query, headers (Host too, for the server's DNS rebinding
// protection to judge; not the hop-by-hop ones), body; the
// answer's status, headers and body streamed back as they come (SSE, chunked JSON lines), and each side's
// hang-up passed on to the other (a client closing an SSE stream closes the upstream's).
import http from 'node:http';
import { parseArgs } from 'node:util';

const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
const MODERN_VERSION = '2026-07-28';
const LEGACY_VERSIONS = new Set(['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']);
/** The version named when a legacy request names none (the newest 2025-era revision). */
const DEFAULT_LEGACY_VERSION = '2025-11-25';
/** Largest request body the gate reads before judging it. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Headers of one hop only (RFC 9110 7.6.1), never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
]);

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

function usage(message) {
  process.stderr.write(
    `eraGate: ${message}\nusage: eraGate.mjs --only legacy|modern --upstream URL [--port N] [--host H]\n`,
  );
  process.exit(2);
}

if (opts.only !== 'legacy' && opts.only !== 'modern') usage('--only must be legacy or modern');
if (!opts.upstream) usage('--upstream URL is required');
let upstream;
try {
  upstream = new URL(opts.upstream);
} catch {
  usage(`--upstream ${opts.upstream} is not a URL`);
}
if (upstream.protocol !== 'http:') usage('--upstream must be an http: URL');

const keepAlive = new http.Agent({ keepAlive: true });

function headerOf(req, name) {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The messages of a POSTed body (one, or a batch), or [] when it is no JSON. */
function messagesOf(body) {
  let parsed;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  return (Array.isArray(parsed) ? parsed : [parsed]).filter((m) => m !== null && typeof m === 'object');
}

function hasEnvelope(msg) {
  const meta = msg.params?._meta;
  return meta !== null && typeof meta === 'object' && meta[META_PROTOCOL_VERSION] !== undefined;
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** What an SDK v1 server says to a protocol version it does not serve. */
function refuseAsLegacy(res) {
  sendJson(res, 400, {
    jsonrpc: '2.0',
    error: { code: -32000, message: 'Bad Request: Unsupported protocol version' },
    id: null,
  });
}

/** What a 2026-07-28-only server says to an older revision's request. */
function refuseAsModern(res, id, requested) {
  sendJson(res, 400, {
    jsonrpc: '2.0',
    id: id ?? null,
    error: {
      code: -32022,
      message: `Unsupported protocol version: ${requested}`,
      data: { supported: [MODERN_VERSION], requested },
    },
  });
}

/** Judge a request: undefined to pipe it through, or a function that answers it. */
function judge(req, body) {
  const headerVersion = headerOf(req, 'mcp-protocol-version');
  const messages = req.method === 'POST' ? messagesOf(body) : [];
  if (opts.only === 'legacy') {
    const modernHeader = headerVersion !== undefined && !LEGACY_VERSIONS.has(headerVersion);
    if (modernHeader || messages.some(hasEnvelope)) return (res) => refuseAsLegacy(res);
    return undefined;
  }
  // --only modern
  if (req.method === 'GET' || req.method === 'DELETE') {
    return (res) => {
      res.writeHead(405, { Allow: 'POST' });
      res.end();
    };
  }
  if (req.method !== 'POST') return undefined;
  if (headerVersion !== undefined && !LEGACY_VERSIONS.has(headerVersion)) return undefined;
  if (messages.length === 0 || messages.some(hasEnvelope)) return undefined;
  const request = messages.find((m) => typeof m.method === 'string' && m.id !== undefined);
  if (!request) {
    return (res) => {
      res.writeHead(202);
      res.end();
    };
  }
  const requested =
    headerVersion ??
    (request.method === 'initialize' && typeof request.params?.protocolVersion === 'string'
      ? request.params.protocolVersion
      : DEFAULT_LEGACY_VERSION);
  return (res) => refuseAsModern(res, request.id, requested);
}

function pipeThrough(req, res, body) {
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name)) headers[name] = value;
  }
  if (body.length > 0 || req.method === 'POST') headers['content-length'] = String(body.length);
  const up = http.request(
    {
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent: keepAlive,
    },
    (upRes) => {
      const out = {};
      for (const [name, value] of Object.entries(upRes.headers)) {
        if (!HOP_BY_HOP.has(name) || name === 'content-length') out[name] = value;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
      // Flush headers at once: an SSE stream may send nothing for a while.
      res.flushHeaders();
      upRes.on('data', (chunk) => res.write(chunk));
      upRes.on('end', () => res.end());
      upRes.on('close', () => {
        if (!upRes.complete) res.destroy();
      });
    },
  );
  up.on('error', (err) => {
    if (!res.headersSent) {
      sendJson(res, 502, {
        jsonrpc: '2.0',
        error: { code: -32603, message: `eraGate: upstream unreachable: ${err.message}` },
        id: null,
      });
    } else {
      res.destroy();
    }
  });
  // The client hung up (or the answer ended): end the upstream exchange too.
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  up.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      sendJson(res, 413, {
        jsonrpc: '2.0',
        error: { code: -32600, message: 'eraGate: request body too large' },
        id: null,
      });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    const body = Buffer.concat(chunks);
    const answer = judge(req, body);
    if (answer) answer(res);
    else pipeThrough(req, res, body);
  });
});
// SSE streams live long.
server.requestTimeout = 0;
server.headersTimeout = 60_000;
server.keepAliveTimeout = 5_000;

server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  process.stdout.write(`listening http://${host}:${port}${upstream.pathname}${upstream.search}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
