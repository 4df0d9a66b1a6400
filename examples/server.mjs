#!/usr/bin/env node
// The bundled example MCP server, used by `npm start`, examples/gateway.yaml and the tests: over stdio, or
// with `--http [port]` as a Streamable HTTP server on 127.0.0.1 (port 8081 by default; 0 picks one), /mcp.
// Tools: echo, add, slow (sleeps N ms, with progress), fail (throws), flaky (fails when asked), crash (exits), sample (asks the
// client's model); one resource (example://greeting) and one prompt (greet).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

function buildServer() {
  const server = new McpServer(
    { name: 'mcpscope-example', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );

  const text = (t) => ({ content: [{ type: 'text', text: t }] });

  server.registerTool(
    'echo',
    { description: 'Echo the message back (and log it)', inputSchema: { message: z.string() } },
    async ({ message }, extra) => {
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level: 'info', logger: 'echo', data: `echo called with ${message.length} characters` },
      });
      return text(message);
    },
  );

  server.registerTool(
    'add',
    { description: 'Add two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => text(String(a + b)),
  );

  server.registerTool(
    'slow',
    {
      description: 'Sleep for ms milliseconds, reporting progress in steps',
      inputSchema: { ms: z.number().int().min(0), steps: z.number().int().min(1).max(100).optional() },
    },
    async ({ ms, steps = 4 }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        // Progress first, then the wait: every notification is out well before the result.
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: steps, message: `step ${i} of ${steps}` },
          });
        }
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, ms / steps);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('cancelled'));
          });
        }).catch((err) => {
          process.stderr.write(`example server: slow call ${extra.requestId} cancelled\n`);
          throw err;
        });
      }
      return text(`slept ${ms} ms`);
    },
  );

  server.registerTool(
    'fail',
    { description: 'Always throws', inputSchema: { reason: z.string().optional() } },
    async ({ reason }) => {
      throw new Error(reason ?? 'the fail tool failed, as it always does');
    },
  );

  server.registerTool(
    'flaky',
    {
      description: 'Succeeds, or fails when asked to (to watch health scores and trends)',
      inputSchema: { fail: z.boolean() },
    },
    async ({ fail }) => {
      if (fail) throw new Error('flaky failed, as asked');
      return text('flaky succeeded');
    },
  );

  server.registerTool(
    'crash',
    {
      description: 'Exit the server process with a code (to see how the proxy reports it)',
      inputSchema: { code: z.number().int() },
    },
    async ({ code }) => {
      process.stderr.write(`example server: crashing with code ${code} on request\n`);
      process.exit(code);
    },
  );

  server.registerTool(
    'sample',
    {
      description: "Ask the client's model to complete a prompt (sampling)",
      inputSchema: { prompt: z.string() },
    },
    async ({ prompt }) => {
      const result = await server.server.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
        maxTokens: 100,
      });
      return text(result.content.type === 'text' ? result.content.text : JSON.stringify(result.content));
    },
  );

  server.registerResource(
    'greeting',
    'example://greeting',
    { title: 'Greeting', description: 'A fixed greeting', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, text: 'Hello from the mcpscope example server' }] }),
  );

  server.registerResource(
    'item',
    new ResourceTemplate('example://items/{id}', { list: undefined }),
    { title: 'Item', description: 'An item by id' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `item ${id}` }] }),
  );

  server.registerPrompt(
    'greet',
    { description: 'Greet someone', argsSchema: { name: z.string() } },
    ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}` } }] }),
  );

  return server;
}

const httpAt = process.argv.indexOf('--http');
if (httpAt === -1) {
  await buildServer().connect(new StdioServerTransport());
} else {
  // One McpServer per session, found by its Mcp-Session-Id.
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let body;
    try {
      body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id !== undefined || req.method !== 'POST' || body?.method !== 'initialize') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }),
        );
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
      await buildServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  });
  const arg = process.argv[httpAt + 1];
  http.listen(arg === undefined || arg.startsWith('-') ? 8081 : Number(arg), '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${http.address().port}/mcp\n`);
  });
}
