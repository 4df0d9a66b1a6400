/** MCP protocol revisions mcpscope speaks, oldest first (2024-11-05 is the legacy HTTP+SSE era). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  '2024-11-05',
  '2025-03-26',
  '2025-06-18',
  '2025-11-25',
];

/** What a Streamable HTTP server must assume when a client sends no MCP-Protocol-Version header. */
export const DEFAULT_HTTP_PROTOCOL_VERSION = '2025-03-26';

export const HEADER_SESSION_ID = 'mcp-session-id';
export const HEADER_PROTOCOL_VERSION = 'mcp-protocol-version';
export const HEADER_LAST_EVENT_ID = 'last-event-id';
