import { useEffect, useState } from 'preact/hooks';
import { listSessions, type LiveFeed, type SessionRow } from './api.js';
import { hrefOf } from './route.js';

/** Refetch /sessions at most this often while the live feed is busy (ms). */
const REFRESH_MS = 250;
/** Feed events that change what /sessions shows. */
const CHANGES = new Set(['session-opened', 'session-closed', 'message', 'error']);

const time = (iso: string | null): string => (iso ? new Date(iso).toLocaleTimeString() : '');

/** Live and recently closed sessions; the live feed tells when to read /sessions again. */
export function SessionsView(props: { feed: LiveFeed; selected: string | undefined }): preact.JSX.Element {
  const [rows, setRows] = useState<SessionRow[] | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const load = (): void => {
      timer = undefined;
      listSessions().then(
        (s) => {
          if (stopped) return;
          setRows(s);
          setProblem(undefined);
        },
        (err: Error) => !stopped && setProblem(err.message),
      );
    };
    load();
    const off = props.feed.on((e) => {
      if (CHANGES.has(e.type) && timer === undefined) timer = setTimeout(load, REFRESH_MS);
    });
    // After a cut the stream resumes, but a reload of the list is cheap and certain.
    const offState = props.feed.onState((open) => open && load());
    return () => {
      stopped = true;
      off();
      offState();
      clearTimeout(timer);
    };
  }, [props.feed]);

  return (
    <section class="sessions" aria-label="Sessions">
      <h2>Sessions</h2>
      {problem && <p class="problem">{problem}</p>}
      {rows === undefined ? (
        <p class="empty">Loading…</p>
      ) : rows.length === 0 ? (
        <p class="empty">No sessions yet: connect a client through mcpscope.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>client</th>
              <th>transport</th>
              <th>state</th>
              <th class="num">calls</th>
              <th class="num">errors</th>
              <th>last activity</th>
            </tr>
          </thead>
          <tbody>
            {[...rows].reverse().map((s) => (
              <tr
                key={s.id}
                class={s.id === props.selected ? 'selected' : ''}
                data-session={s.id}
                title={`${s.id}\nupstream: ${s.upstream}\nera: ${s.era}`}
              >
                <td>
                  <a href={hrefOf({ session: s.id, message: undefined })}>
                    {s.client ? `${s.client.name} ${s.client.version}` : s.id.slice(0, 8)}
                  </a>
                </td>
                <td>{s.transport}</td>
                <td class={`state ${s.state}`}>{s.state}</td>
                <td class="num">{s.requests}</td>
                <td class={s.errors > 0 ? 'num failed' : 'num'}>{s.errors}</td>
                <td>{time(s.lastActivity)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
