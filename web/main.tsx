/** The DevTools page: Sessions beside the view the URL names (a session's Protocol, Network or Console; Breakpoints; Health; Tapes). */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LiveFeed } from './api.js';
import { BreakpointsView } from './breakpoints.js';
import { HealthView } from './health.js';
import { parseRoute, type Route } from './route.js';
import { SessionView } from './session.js';
import { SessionsView } from './sessions.js';
import { TapesView, TapeView } from './tapes.js';

function Main(props: { feed: LiveFeed; route: Route }): preact.JSX.Element {
  const { route, feed } = props;
  switch (route.view) {
    case 'breakpoints':
      return <BreakpointsView feed={feed} />;
    case 'health':
      return <HealthView />;
    case 'tapes':
      return <TapesView />;
    case 'tape':
      return <TapeView key={route.tape} tape={route.tape as string} message={route.message} />;
    default:
      return route.session === undefined ? (
        <section class="protocol">
          <p class="empty">Select a session to see its messages.</p>
        </section>
      ) : (
        <SessionView
          key={route.session}
          feed={feed}
          session={route.session}
          view={route.view}
          message={route.message}
        />
      );
  }
}

const NAV: Array<[string, string, (r: Route) => boolean]> = [
  ['#/', 'Sessions', (r) => r.view === 'protocol' || r.view === 'network' || r.view === 'console'],
  ['#/breakpoints', 'Breakpoints & rules', (r) => r.view === 'breakpoints'],
  ['#/health', 'Health', (r) => r.view === 'health'],
  ['#/tapes', 'Tapes', (r) => r.view === 'tapes' || r.view === 'tape'],
];

function App(props: { feed: LiveFeed }): preact.JSX.Element {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [live, setLive] = useState(false);
  useEffect(() => {
    const onHash = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    // The stream may have opened before this effect ran (the page renders first): start from its state.
    setLive(props.feed.open);
    const off = props.feed.onState(setLive);
    return () => {
      removeEventListener('hashchange', onHash);
      off();
    };
  }, [props.feed]);
  return (
    <>
      <header>
        <h1>
          <a href="#/">mcpscope</a> DevTools
        </h1>
        <nav>
          {NAV.map(([href, label, current]) => (
            <a key={href} href={href} class={current(route) ? 'current' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class={live ? 'live on' : 'live'}>{live ? 'live' : 'reconnecting…'}</span>
      </header>
      <main>
        <SessionsView feed={props.feed} selected={route.session} />
        <Main feed={props.feed} route={route} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App feed={new LiveFeed()} />, root);
