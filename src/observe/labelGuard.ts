/** The value a label takes once its distinct values have reached the limit. */
export const OTHER = 'other';

/**
 * Bounds the distinct values of one label that comes from untrusted input (methods, tool names): the first
 * `limit` values are kept, later ones fold into `other`. Known values (e.g. the spec's methods) never count.
 */
export class LabelGuard {
  readonly #known: ReadonlySet<string>;
  readonly #seen = new Set<string>();
  readonly #limit: number;
  readonly #onFold: () => void;

  constructor(limit: number, known: Iterable<string>, onFold: () => void) {
    this.#limit = limit;
    this.#known = new Set(known);
    this.#onFold = onFold;
  }

  value(v: string): string {
    if (this.#known.has(v) || this.#seen.has(v)) return v;
    if (this.#seen.size >= this.#limit) {
      this.#onFold();
      return OTHER;
    }
    this.#seen.add(v);
    return v;
  }

  get size(): number {
    return this.#seen.size;
  }
}

/** Methods of the MCP specification (2025-11-25): always their own label value. */
export const MCP_METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/roots/list_changed',
  'notifications/elicitation/complete',
  'notifications/tasks/status',
];
