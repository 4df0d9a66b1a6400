/**
 * The Protocol view: a session's (or a tape's) messages as a timeline, a request and its answer on one row,
 * drawn as a virtual table; a selected row shows the request and the answer side by side as foldable JSON,
 * to copy as JSON, as a curl command or as an SDK snippet.
 */
import { useMemo, useState } from 'preact/hooks';
import { CopyButton, JsonTree } from './json.js';
import { curlSnippet, sdkSnippet, targetOf } from './snippets.js';
import { buildRows, filterRows, type Row } from './timeline.js';
import type { FeedEvent, SessionRow } from './types.js';
import { VirtualTable } from './virtual.js';

const arrow = (row: Row): string =>
  row.kind === 'event' ? '•' : row.direction === 'server-to-client' ? '←' : '→';

export const duration = (ms: number | undefined): string =>
  ms === undefined ? '' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;

/** One message: foldable JSON or its text, and ways to copy it (a request: as curl and SDK code too). */
function Message(props: {
  title: string;
  event: FeedEvent | undefined;
  session: SessionRow | undefined;
}): preact.JSX.Element {
  const [raw, setRaw] = useState(false);
  const e = props.event;
  let body: string;
  if (!e) body = '(none yet)';
  else if (e.message !== undefined) body = JSON.stringify(e.message, null, 2);
  else if (e.preview !== undefined) body = `${e.preview}\n… (truncated: ${e.bytes ?? '?'} bytes in all)`;
  else body = JSON.stringify(e, null, 2);
  const whole = e !== undefined && e.message !== undefined;
  const request = whole && e.kind === 'request';
  const target = targetOf(props.session);
  return (
    <div class="message">
      <h3>
        {props.title}
        {e?.rule !== undefined && (
          <span class="tag rule">
            {e.rule} ({String(e.ruleAction ?? '')})
          </span>
        )}
      </h3>
      {e && (
        <p class="tools">
          <button type="button" class="mode" onClick={() => setRaw(!raw)}>
            {raw ? 'Tree' : 'Raw'}
          </button>
          <CopyButton label="Copy JSON" text={() => body} />
          {request && <CopyButton label="Copy as curl" text={() => curlSnippet(e.message, target)} />}
          {request && <CopyButton label="Copy as SDK" text={() => sdkSnippet(e.message, target)} />}
        </p>
      )}
      {whole && !raw ? <JsonTree value={e.message} /> : <pre class="json">{body}</pre>}
    </div>
  );
}

function Detail(props: { row: Row; session: SessionRow | undefined }): preact.JSX.Element {
  const r = props.row;
  if (r.event) {
    return (
      <div class="detail" aria-label="Selected message">
        <Message title={r.method} event={r.event} session={props.session} />
      </div>
    );
  }
  const first = r.kind === 'answer' ? 'Answer' : r.kind === 'notification' ? 'Notification' : 'Request';
  return (
    <div class="detail" aria-label="Selected message">
      <Message title={first} event={r.request ?? r.answer} session={props.session} />
      {r.kind === 'request' && <Message title="Answer" event={r.answer} session={props.session} />}
    </div>
  );
}

export interface TimelineProps {
  events: ReadonlyMap<number, FeedEvent>;
  /** The link that selects a row (its seq). */
  link: (seq: number) => string;
  selected: number | undefined;
  /** The live session (for snippets); undefined for a tape. */
  session: SessionRow | undefined;
  empty: string;
}

/** The timeline itself: a filter, the rows (only those in view are drawn), and the selected row's messages. */
export function Timeline(props: TimelineProps): preact.JSX.Element {
  const [query, setQuery] = useState('');
  const all = useMemo(() => buildRows([...props.events.values()]), [props.events]);
  const rows = useMemo(() => filterRows(all, query), [all, query]);
  const sel = props.selected;
  const selected =
    sel === undefined
      ? undefined
      : all.find((r) => r.seq === sel || r.answer?.seq === sel || r.event?.seq === sel);
  const index = selected === undefined ? undefined : rows.indexOf(selected);

  return (
    <>
      <p class="filter">
        <input
          type="search"
          name="filter"
          placeholder="filter: method, tool, status, any text; failed; synthetic"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />{' '}
        <span class="muted rows-count">
          {rows.length === all.length ? `${all.length} rows` : `${rows.length} of ${all.length} rows`}
        </span>
      </p>
      <div class="timeline">
        <VirtualTable
          label="Timeline"
          rows={rows}
          columns={8}
          selected={index}
          head={
            <tr>
              <th class="num">#</th>
              <th>time</th>
              <th></th>
              <th>method</th>
              <th>name</th>
              <th>status</th>
              <th class="num">duration</th>
              <th class="num">bytes</th>
            </tr>
          }
          row={(r) => (
            <tr
              key={r.seq}
              data-seq={r.seq}
              class={`${r.kind} ${r.failed ? 'failed' : ''} ${r === selected ? 'selected' : ''} ${r.rule ? 'ruled' : ''}`}
            >
              <td class="num">
                <a href={props.link(r.seq)}>{r.seq}</a>
              </td>
              <td>{new Date(r.time).toLocaleTimeString()}</td>
              <td title={r.direction ?? ''}>{arrow(r)}</td>
              <td class="method">
                <a href={props.link(r.seq)}>{r.method}</a>
                {r.rule ? (
                  <span class="tag rule" title={`${r.rule.action} by ${r.rule.name}`}>
                    {r.rule.name}
                  </span>
                ) : (
                  r.synthetic && <span class="tag">synthetic</span>
                )}
              </td>
              <td class="name">{r.name}</td>
              <td class="status">{r.status}</td>
              <td class="num">{duration(r.durationMs)}</td>
              <td class="num">{r.bytes || ''}</td>
            </tr>
          )}
        />
        {rows.length === 0 && <p class="empty">{props.empty}</p>}
      </div>
      {selected && <Detail row={selected} session={props.session} />}
    </>
  );
}
