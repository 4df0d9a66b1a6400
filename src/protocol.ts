/** MCP protocol revisions mcpscope carries, oldest first, of both eras (see jsonrpc/era.ts). */
export { SUPPORTED_PROTOCOL_VERSIONS } from './jsonrpc/era.js';

/** What a Streamable HTTP server must assume when a client sends no MCP-Protocol-Version header. */
export const DEFAULT_HTTP_PROTOCOL_VERSION = '2025-03-26';

export const HEADER_SESSION_ID = 'mcp-session-id';
export const HEADER_PROTOCOL_VERSION = 'mcp-protocol-version';
export const HEADER_LAST_EVENT_ID = 'last-event-id';
