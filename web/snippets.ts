/** A message as something to run again: a curl command line, or a TypeScript SDK snippet. Pure, no DOM. */
import type { SessionRow } from './types.js';

/** `text` quoted for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

interface Target {
  /** The URL the client reached mcpscope at (HTTP sessions). */
  endpoint?: string | undefined;
  session?: string | undefined;
  protocolVersion?: string | undefined;
  upstream?: string | undefined;
}

export function targetOf(session: SessionRow | undefined): Target {
  return {
    endpoint: session?.endpoint,
    session: session?.transport === 'streamable-http' ? session.id : undefined,
    protocolVersion: session?.protocolVersion,
    upstream: session?.upstream,
  };
}

/**
 * The message POSTed again with curl, to the endpoint the session used (Streamable HTTP: in the same
 * session, whose id the Mcp-Session-Id header names, while it is open). A session that is not over HTTP
 * has no URL: the command names a placeholder.
 */
export function curlSnippet(message: unknown, target: Target): string {
  const lines = [
    `curl -sN ${shellQuote(target.endpoint ?? 'http://127.0.0.1:8080/mcp')}`,
    `-H 'content-type: application/json'`,
    `-H 'accept: application/json, text/event-stream'`,
  ];
  if (target.session) lines.push(`-H ${shellQuote(`mcp-session-id: ${target.session}`)}`);
  if (target.protocolVersion)
    lines.push(`-H ${shellQuote(`mcp-protocol-version: ${target.protocolVersion}`)}`);
  lines.push(`--data ${shellQuote(JSON.stringify(message))}`);
  const head = target.endpoint
    ? ''
    : '# this session was not over HTTP: run `mcpscope forward http` in front of the server and use its URL\n';
  return head + lines.join(' \\\n  ');
}

const HELPERS: Readonly<Record<string, string>> = {
  'tools/call': 'callTool',
  'tools/list': 'listTools',
  'prompts/get': 'getPrompt',
  'prompts/list': 'listPrompts',
  'resources/read': 'readResource',
  'resources/list': 'listResources',
  'resources/templates/list': 'listResourceTemplates',
  'completion/complete': 'complete',
  ping: 'ping',
};

/**
 * The request sent again with the MCP TypeScript SDK (`@modelcontextprotocol/sdk`): a client that connects
 * the way the session did (Streamable HTTP to its endpoint, or the stdio server's command line) and makes
 * the same call, with the client's helper for it when there is one.
 */
export function sdkSnippet(message: unknown, target: Target): string {
  const msg = (message ?? {}) as { method?: string; params?: Record<string, unknown> };
  const method = msg.method ?? 'ping';
  const { _meta: _drop, ...params } = msg.params ?? {};
  const args = JSON.stringify(params, null, 2).replaceAll('\n', '\n  ');
  const helper = HELPERS[method];
  const call =
    helper === 'ping'
      ? 'await client.ping()'
      : helper
        ? `await client.${helper}(${args})`
        : `await client.request(\n  { method: ${JSON.stringify(method)}, params: ${args} },\n  ResultSchema,\n)`;
  // Over HTTP to where the client went, or else to an HTTP upstream; else the stdio server's command line.
  const url = target.endpoint ?? (/^https?:\/\//.test(target.upstream ?? '') ? target.upstream : undefined);
  const http = url !== undefined;
  const [command = 'node', ...rest] = (target.upstream ?? 'node server.js').split(/\s+/);
  return [
    "import { Client } from '@modelcontextprotocol/sdk/client/index.js';",
    http
      ? "import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';"
      : "import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';",
    ...(helper ? [] : ["import { ResultSchema } from '@modelcontextprotocol/sdk/types.js';"]),
    '',
    "const client = new Client({ name: 'mcpscope-snippet', version: '1.0.0' });",
    http
      ? `await client.connect(new StreamableHTTPClientTransport(new URL(${JSON.stringify(url)})));`
      : `await client.connect(new StdioClientTransport({ command: ${JSON.stringify(command)}, args: ${JSON.stringify(rest)} }));`,
    `const result = ${call};`,
    'console.log(JSON.stringify(result, null, 2));',
    'await client.close();',
    '',
  ].join('\n');
}
