/**
 * One session: its feed read once (in pages, then kept live) and shown three ways, Protocol (messages),
 * Network (HTTP exchanges and streams) and Console (stderr and mcpscope's warnings).
 */
import { useEffect, useState } from 'preact/hooks';
import { listSessions, sessionEvents, type FeedEvent, type LiveFeed } from './api.js';
import { ConsoleView } from './console.js';
import { NetworkView } from './network.js';
import { Timeline } from './protocol.js';
import { hrefOf, type View } from './route.js';
import { useLoaded } from './load.js';

/** Least time between two drawings of a live session (ms). */
const RENDER_MS = 50;

/** A session's events by seq, live: listen first, then read the pages (an event seen twice is kept once). */
function useSessionEvents(
  feed: LiveFeed,
  session: string,
): { events: ReadonlyMap<number, FeedEvent>; problem: string | undefined } {
  const [events, setEvents] = useState<ReadonlyMap<number, FeedEvent>>(new Map());
  const [problem, setProblem] = useState<string | undefined>(undefined);
  useEffect(() => {
    const seen = new Map<number, FeedEvent>();
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A busy session sends many events a second: the view is drawn again at most every RENDER_MS.
    const add = (list: FeedEvent[]): void => {
      for (const e of list) seen.set(e.seq, e);
      if (stopped || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (!stopped) setEvents(new Map(seen));
      }, RENDER_MS);
    };
    const off = feed.on((e) => e.session === session && add([e]));
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
    const offState = feed.onState((open) => open && load());
    return () => {
      stopped = true;
      clearTimeout(timer);
      off();
      offState();
    };
  }, [feed, session]);
  return { events, problem };
}

const TABS: Array<['network' | 'console' | undefined, string]> = [
  [undefined, 'Protocol'],
  ['network', 'Network'],
  ['console', 'Console'],
];

export function SessionView(props: {
  feed: LiveFeed;
  session: string;
  view: View;
  message: number | undefined;
}): preact.JSX.Element {
  const { session, view } = props;
  const { events, problem } = useSessionEvents(props.feed, session);
  const row = useLoaded(async () => (await listSessions()).find((r) => r.id === session), [session]).value;

  return (
    <section class="protocol" aria-label="Session">
      <h2>
        {row?.client ? `${row.client.name} ${row.client.version}` : 'Session'}{' '}
        <span class="session-id">{session}</span>
      </h2>
      <nav class="tabs">
        {TABS.map(([v, label]) => (
          <a
            key={label}
            class={(v ?? 'protocol') === view ? 'current' : ''}
            href={hrefOf({ session, message: undefined, view: v })}
          >
            {label}
          </a>
        ))}
      </nav>
      {problem && <p class="problem">{problem}</p>}
      {view === 'network' ? (
        <NetworkView events={events} transport={row?.transport} />
      ) : view === 'console' ? (
        <ConsoleView events={events} />
      ) : (
        <Timeline
          events={events}
          link={(seq) => hrefOf({ session, message: seq })}
          selected={props.message}
          session={row}
          empty={problem ? '' : 'No messages yet.'}
        />
      )}
    </section>
  );
}
