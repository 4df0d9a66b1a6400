/**
 * Text that peers control (client and server names, methods, tools, URIs, error messages, anything read from
 * a tape or the admin API) is printed through here, so a peer cannot drive the operator's terminal: clear
 * the screen, set the window title, plant OSC 8 links, hide or reorder lines.
 */

/**
 * C0 controls (newline and tab included: one value never spans lines), DEL, C1 controls (U+0080–U+009F,
 * which some terminals act on as 8-bit CSI, OSC …), and the bidi embedding, override and isolate controls
 * (U+202A–U+202E, U+2066–U+2069), which reorder what is shown.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `value` as text safe to print on a terminal: every unsafe character becomes visible, JSON-style
 * (ESC → `\u001b`, U+202E → `\u202e`). Apply it to each value, never to a whole line that carries
 * mcpscope's own colours.
 */
export function safeText(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return text.replace(UNSAFE, escape);
}

/**
 * JSON whose text is safe on a terminal. JSON.stringify escapes C0 controls itself; DEL, C1 and the bidi
 * controls it leaves as they are, so they are written as `\uXXXX` escapes too: the same JSON value.
 */
export function safeJson(value: unknown, indent?: number): string {
  return safeJsonText(JSON.stringify(value, null, indent));
}

/** What JSON.stringify leaves unescaped in strings but a terminal may act on. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The same for JSON text that JSON.stringify wrote (its only raw C0 characters are the newlines of
 * indentation, which stay).
 */
export function safeJsonText(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escape);
}
