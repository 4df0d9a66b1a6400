#!/usr/bin/env node
// The bench's 2026-07-28-only upstream: a v2 SDK server (serveStdio, legacy: 'reject') whose `echo` tool
// returns at once, for the rows that measure --bridge translating an older client to it.
// `node bench/echoServerV2.mjs` (stdio only).
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod/v4';

serveStdio(
  () => {
    const server = new McpServer({ name: 'bench-echo-v2', version: '1.0.0' });
    server.registerTool('echo', { inputSchema: z.object({ message: z.string() }) }, async ({ message }) => ({
      content: [{ type: 'text', text: message }],
    }));
    return server;
  },
  { legacy: 'reject' },
);
