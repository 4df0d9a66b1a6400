/**
 * Tapes: the sessions recorded in the `--record` directory, newest first; one opens in the same timeline
 * as a live session, and exports as JSON or HAR.
 */
import { listTapes, tapeEvents, type FeedEvent } from './api.js';
import { useLoaded } from './load.js';
import { Timeline } from './protocol.js';
import { tapeHref } from './route.js';

const NONE: ReadonlyMap<number, FeedEvent> = new Map();

const size = (n: number): string =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KB`
      : `${(n / 1024 / 1024).toFixed(1)} MB`;

export function TapesView(): preact.JSX.Element {
  const { value: list, problem } = useLoaded(() => listTapes(), []);
  return (
    <section class="tapes" aria-label="Tapes">
      <h2>Tapes {list && <span class="muted">{list.dir}</span>}</h2>
      {problem && <p class="problem">{problem}</p>}
      {list &&
        (list.tapes.length === 0 ? (
          <p class="empty">No tapes yet: every session is recorded as it ends.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>started</th>
                <th>client</th>
                <th>transport</th>
                <th>upstream</th>
                <th class="num">size</th>
              </tr>
            </thead>
            <tbody>
              {list.tapes.map((t) => (
                <tr key={t.id} data-tape={t.id}>
                  <td>
                    <a href={tapeHref(t.id)}>{new Date(t.startedAt).toLocaleString()}</a>
                  </td>
                  <td>{t.client ? `${t.client.name} ${t.client.version}` : t.session.slice(0, 8)}</td>
                  <td>{t.transport}</td>
                  <td>{t.upstream}</td>
                  <td class="num">{size(t.sizeBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      {list && list.total > list.tapes.length && (
        <p class="muted">
          The newest {list.tapes.length} of {list.total} are listed.
        </p>
      )}
    </section>
  );
}

/** One tape in the Protocol timeline, with its exports. */
export function TapeView(props: { tape: string; message: number | undefined }): preact.JSX.Element {
  const { tape } = props;
  const { value: loaded, problem } = useLoaded(
    async () => new Map((await tapeEvents(tape)).map((e) => [e.seq, e] as const)),
    [tape],
  );
  const events: ReadonlyMap<number, FeedEvent> = loaded ?? NONE;
  const exportHref = (format: string): string => `/tapes/${encodeURIComponent(tape)}/export?format=${format}`;
  return (
    <section class="protocol" aria-label="Tape">
      <h2>
        Tape <span class="session-id">{tape}</span>
      </h2>
      <p class="tools">
        <a href="#/tapes">all tapes</a> · export{' '}
        <a class="export-json" href={exportHref('json')} download={`${tape}.json`}>
          JSON
        </a>{' '}
        <a class="export-har" href={exportHref('har')} download={`${tape}.har`}>
          HAR
        </a>
      </p>
      {problem && <p class="problem">{problem}</p>}
      <Timeline
        events={events}
        link={(seq) => tapeHref(tape, seq)}
        selected={props.message}
        session={undefined}
        empty={loaded ? 'This tape holds no messages.' : problem ? '' : 'Loading…'}
      />
    </section>
  );
}
