/** The DevTools page: Sessions beside the Protocol view of the session the URL names. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LiveFeed } from './api.js';
import { BreakpointsView } from './breakpoints.js';
import { ProtocolView } from './protocol.js';
import { parseRoute, type Route } from './route.js';
import { SessionsView } from './sessions.js';

function App(props: { feed: LiveFeed }): preact.JSX.Element {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [live, setLive] = useState(false);
  useEffect(() => {
    const onHash = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
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
          <a href="#/" class={route.view === 'protocol' ? 'current' : ''}>
            Protocol
          </a>
          <a href="#/breakpoints" class={route.view === 'breakpoints' ? 'current' : ''}>
            Breakpoints
          </a>
        </nav>
        <span class={live ? 'live on' : 'live'}>{live ? 'live' : 'reconnecting…'}</span>
      </header>
      <main>
        <SessionsView feed={props.feed} selected={route.session} />
        {route.view === 'breakpoints' ? (
          <BreakpointsView feed={props.feed} />
        ) : route.session === undefined ? (
          <section class="protocol">
            <p class="empty">Select a session to see its messages.</p>
          </section>
        ) : (
          <ProtocolView
            key={route.session}
            feed={props.feed}
            session={route.session}
            message={route.message}
          />
        )}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App feed={new LiveFeed()} />, root);
