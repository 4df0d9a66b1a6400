import { useEffect, useMemo, useState } from 'preact/hooks';
import { sessionEvents, type FeedEvent, type LiveFeed } from './api.js';
import { hrefOf } from './route.js';
import { buildRows, filterRows, type Row } from './timeline.js';

/** Least time between two drawings of a live timeline (ms). */
const RENDER_MS = 50;

const arrow = (row: Row): string =>
  row.kind === 'event' ? '•' : row.direction === 'server-to-client' ? '←' : '→';

const duration = (ms: number | undefined): string =>
  ms === undefined ? '' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;

/** A message as formatted JSON, as text (never HTML). */
function Message(props: { title: string; event: FeedEvent | undefined }): preact.JSX.Element {
  const e = props.event;
  let body: string;
  if (!e) body = '(none yet)';
  else if (e.message !== undefined) body = JSON.stringify(e.message, null, 2);
  else if (e.preview !== undefined) body = `${e.preview}\n… (truncated: ${e.bytes ?? '?'} bytes in all)`;
  else body = JSON.stringify(e, null, 2);
  return (
    <div class="message">
      <h3>{props.title}</h3>
      <pre class="json">{body}</pre>
    </div>
  );
}

/** One session's messages as a timeline, live; a selected row shows its request and answer side by side. */
export function ProtocolView(props: {
  feed: LiveFeed;
  session: string;
  message: number | undefined;
}): preact.JSX.Element {
  const [events, setEvents] = useState<Map<number, FeedEvent>>(new Map());
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const { session } = props;

  useEffect(() => {
    const seen = new Map<number, FeedEvent>();
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A busy session sends many events a second: the timeline is drawn again at most every RENDER_MS.
    const add = (list: FeedEvent[]): void => {
      for (const e of list) seen.set(e.seq, e);
      if (stopped || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (!stopped) setEvents(new Map(seen));
      }, RENDER_MS);
    };
    // Listen first, then read the pages: an event that arrives in between is kept once (by seq).
    const off = props.feed.on((e) => e.session === session && add([e]));
    const load = (): void => {
      sessionEvents(session).then(
        (list) => {
          add(list);
          setProblem(undefined);
        },
        (err: Error) => !stopped && setProblem(err.message),
      );
    };
    load();
    const offState = props.feed.onState((open) => open && load());
    return () => {
      stopped = true;
      clearTimeout(timer);
      off();
      offState();
    };
  }, [props.feed, session]);

  const [query, setQuery] = useState('');
  const all = useMemo(() => buildRows([...events.values()]), [events]);
  const rows = useMemo(() => filterRows(all, query), [all, query]);
  const selected =
    props.message === undefined
      ? undefined
      : all.find(
          (r) => r.seq === props.message || r.answer?.seq === props.message || r.event?.seq === props.message,
        );

  return (
    <section class="protocol" aria-label="Protocol">
      <h2>
        Protocol <span class="session-id">{session}</span>
      </h2>
      {problem && <p class="problem">{problem}</p>}
      <p class="filter">
        <input
          type="search"
          name="filter"
          placeholder="filter: method, tool, status, or failed"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />{' '}
        <span class="muted">
          {rows.length === all.length ? `${all.length} rows` : `${rows.length} of ${all.length} rows`}
        </span>
      </p>
      <div class="timeline">
        <table>
          <thead>
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
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr
                key={r.seq}
                data-seq={r.seq}
                class={`${r.kind} ${r.failed ? 'failed' : ''} ${r === selected ? 'selected' : ''}`}
              >
                <td class="num">
                  <a href={hrefOf({ session, message: r.seq })}>{r.seq}</a>
                </td>
                <td>{new Date(r.time).toLocaleTimeString()}</td>
                <td title={r.direction ?? ''}>{arrow(r)}</td>
                <td class="method">
                  <a href={hrefOf({ session, message: r.seq })}>{r.method}</a>
                  {r.synthetic && <span class="tag">synthetic</span>}
                </td>
                <td class="name">{r.name}</td>
                <td class="status">{r.status}</td>
                <td class="num">{duration(r.durationMs)}</td>
                <td class="num">{r.bytes || ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && !problem && <p class="empty">No messages yet.</p>}
      </div>
      {selected && (
        <div class="detail" aria-label="Selected message">
          {selected.event ? (
            <Message title={selected.method} event={selected.event} />
          ) : (
            <>
              <Message
                title={
                  selected.kind === 'answer'
                    ? 'Answer'
                    : selected.kind === 'notification'
                      ? 'Notification'
                      : 'Request'
                }
                event={selected.request ?? selected.answer}
              />
              {selected.kind === 'request' && <Message title="Answer" event={selected.answer} />}
            </>
          )}
        </div>
      )}
    </section>
  );
}
