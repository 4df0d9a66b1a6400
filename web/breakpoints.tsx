import { useEffect, useState } from 'preact/hooks';
import { change, listBreakpoints, listPaused, type LiveFeed } from './api.js';
import { hrefOf } from './route.js';
import { RulesList } from './rules.js';
import type { BreakpointRow, PausedRow } from './types.js';

/** Feed events after which the lists are read again: a hold starts or ends; a message may hit a breakpoint. */
const CHANGES = new Set(['paused', 'message']);
const REFRESH_MS = 250;

/** JSON text → the object it holds, or what is wrong with it (shown as the person types). */
function parseObject(text: string): { value?: Record<string, unknown>; problem?: string } {
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { problem: 'not a JSON object' };
    return { value: value as Record<string, unknown> };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** What a reply to a held request starts as: an empty tool result, or an empty result. */
function replyDraft(held: PausedRow): string {
  const result =
    held.method === 'tools/call'
      ? { content: [{ type: 'text', text: '' }] }
      : ({} as Record<string, unknown>);
  return JSON.stringify({ result }, null, 2);
}

/** A reply's body, `{ "result": … }` or `{ "error": { code, message } }`, or what is wrong with it. */
function parseReply(text: string): { value?: Record<string, unknown>; problem?: string } {
  const parsed = parseObject(text);
  if (!parsed.value) return parsed;
  const keys = Object.keys(parsed.value);
  if (keys.length !== 1 || (keys[0] !== 'result' && keys[0] !== 'error'))
    return { problem: 'a reply is { "result": … } or { "error": { "code": …, "message": … } }' };
  return parsed;
}

/** One held message: its JSON, editable (validated as typed), and what a person may do with it. */
function Held(props: { held: PausedRow; onDone: () => void }): preact.JSX.Element {
  const original = JSON.stringify(props.held.message, null, 2);
  const [text, setText] = useState(original);
  const [reply, setReply] = useState(() => replyDraft(props.held));
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const parsed = parseObject(text);
  const replyParsed = parseReply(reply);
  const edited = text !== original;
  const act = (path: string, body?: unknown): void => {
    change('POST', `/paused/${encodeURIComponent(props.held.id)}/${path}`, body).then(
      () => props.onDone(),
      (err: Error) => setProblem(err.message),
    );
  };
  const h = props.held;
  return (
    <div class="held" data-paused={h.id}>
      <h3>
        {h.method ?? h.kind} <span class="muted">held by {h.cause}</span>{' '}
        <a href={hrefOf({ session: h.session, message: undefined })}>session</a>
      </h3>
      <textarea
        name="message"
        class={parsed.problem ? 'json invalid' : 'json'}
        spellcheck={false}
        rows={Math.min(20, text.split('\n').length + 1)}
        value={text}
        onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
      />
      {parsed.problem && <p class="problem">{parsed.problem}</p>}
      {problem && <p class="problem">{problem}</p>}
      <p class="actions">
        <button
          type="button"
          class="resume"
          disabled={parsed.problem !== undefined}
          onClick={() => act('resume', edited ? { message: parsed.value } : undefined)}
        >
          {edited ? 'Resume edited' : 'Resume'}
        </button>
        <button type="button" class="drop" onClick={() => act('drop')}>
          Drop
        </button>
        <span class="muted">released unchanged in {Math.round(h.releasedInMs / 1000)} s</span>
      </p>
      {h.kind === 'request' && (
        <div class="reply">
          <h4>Reply in the other side's name</h4>
          <textarea
            name="reply"
            class={replyParsed.problem ? 'json invalid' : 'json'}
            spellcheck={false}
            rows={Math.min(12, reply.split('\n').length + 1)}
            value={reply}
            onInput={(e) => setReply((e.currentTarget as HTMLTextAreaElement).value)}
          />
          {replyParsed.problem && <p class="problem">{replyParsed.problem}</p>}
          <p class="actions">
            <button
              type="button"
              class="reply"
              disabled={replyParsed.problem !== undefined}
              onClick={() => act('reply', replyParsed.value)}
            >
              Reply
            </button>
            <span class="muted">the request goes no further; its sender gets this answer</span>
          </p>
        </div>
      )}
    </div>
  );
}

/** Breakpoints (set, list, remove), the rules file's rules (hits, on and off), and held messages (edit, resume, drop, reply). */
export function BreakpointsView(props: { feed: LiveFeed }): preact.JSX.Element {
  const [breakpoints, setBreakpoints] = useState<BreakpointRow[]>([]);
  const [paused, setPaused] = useState<PausedRow[]>([]);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [method, setMethod] = useState('tools/call');
  const [tool, setTool] = useState('');
  const [version, setVersion] = useState(0);
  const reload = (): void => setVersion((v) => v + 1);

  useEffect(() => {
    let stopped = false;
    Promise.all([listBreakpoints(), listPaused()]).then(
      ([b, p]) => {
        if (stopped) return;
        setBreakpoints(b);
        setPaused(p);
      },
      (err: Error) => !stopped && setProblem(err.message),
    );
    return () => {
      stopped = true;
    };
  }, [version]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = props.feed.on((e) => {
      if (CHANGES.has(e.type) && timer === undefined)
        timer = setTimeout(() => {
          timer = undefined;
          reload();
        }, REFRESH_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [props.feed]);

  const add = (e: Event): void => {
    e.preventDefault();
    const match: Record<string, string> = {};
    if (method.trim()) match.method = method.trim();
    if (tool.trim()) match.tool = tool.trim();
    change('POST', '/breakpoints', { match }).then(
      () => {
        setProblem(undefined);
        reload();
      },
      (err: Error) => setProblem(err.message),
    );
  };
  const remove = (id: string): void => {
    change('DELETE', `/breakpoints/${encodeURIComponent(id)}`).then(reload, (err: Error) =>
      setProblem(err.message),
    );
  };

  return (
    <section class="breakpoints" aria-label="Breakpoints">
      <h2>Breakpoints</h2>
      <form class="add-breakpoint" onSubmit={add}>
        <label>
          method <input name="method" value={method} onInput={(e) => setMethod(e.currentTarget.value)} />
        </label>
        <label>
          tool <input name="tool" value={tool} onInput={(e) => setTool(e.currentTarget.value)} />
        </label>
        <button type="submit">Set breakpoint</button>
      </form>
      {problem && <p class="problem">{problem}</p>}
      {breakpoints.length === 0 ? (
        <p class="empty">No breakpoints.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>id</th>
              <th>match</th>
              <th class="num">hits</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {breakpoints.map((b) => (
              <tr key={b.id} data-breakpoint={b.id}>
                <td>{b.id}</td>
                <td class="match">{JSON.stringify(b.match)}</td>
                <td class="num">{b.hits}</td>
                <td>
                  <button type="button" onClick={() => remove(b.id)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <RulesList version={version} onChange={reload} />
      <h2>Held messages</h2>
      {paused.length === 0 ? (
        <p class="empty">Nothing is held.</p>
      ) : (
        paused.map((p) => <Held key={p.id} held={p} onDone={reload} />)
      )}
    </section>
  );
}
