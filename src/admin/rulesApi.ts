/**
 * The admin API of interception rules: `GET /rules` lists the rules in force (the `--rules` file's, in the
 * order they are tried) with what each matches, does and has hit; `POST /rules/{name}/enable` and
 * `/disable` turn one on or off at once, for as long as mcpscope runs (src/stages/interceptStage.ts).
 */
import type { RuleRow } from '../stages/interceptStage.js';
import { idOf, notAllowed, type AdminAnswer } from './breakpointsApi.js';

/** What the API needs of the interception stage. */
export interface RuleControl {
  /** The rules file; undefined when mcpscope runs without --rules. */
  readonly file: string | undefined;
  list(): RuleRow[];
  /** False when there is no rule of that name. */
  setEnabled(name: string, enabled: boolean): boolean;
}

const RULE_ACTION = /^\/rules\/([^/]{1,200})\/(enable|disable)$/;

export class RulesApi {
  readonly #rules: RuleControl;

  constructor(rules: RuleControl) {
    this.#rules = rules;
  }

  static owns(path: string): boolean {
    return path === '/rules' || RULE_ACTION.test(path);
  }

  handle(method: string, path: string): AdminAnswer {
    if (path === '/rules') {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed('GET, HEAD', method, path);
      return { status: 200, body: { file: this.#rules.file ?? null, rules: this.#rules.list() } };
    }
    const m = RULE_ACTION.exec(path) as RegExpExecArray;
    if (method !== 'POST') return notAllowed('POST', method, path);
    const name = idOf(m[1] as string);
    const enabled = m[2] === 'enable';
    if (!this.#rules.setEnabled(name, enabled)) {
      return {
        status: 404,
        body: {
          error:
            this.#rules.file === undefined
              ? `no rule ${name}: mcpscope runs without --rules FILE`
              : `no rule ${name} in ${this.#rules.file}; GET /rules lists them`,
        },
      };
    }
    const rule = this.#rules.list().find((r) => r.name === name) as RuleRow;
    return { status: 200, body: rule };
  }
}
