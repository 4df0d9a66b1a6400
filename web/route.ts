/**
 * Deep links live in the URL's fragment (never sent to the server): `#/session/<id>`,
 * `#/session/<id>/message/<seq>`, `#/session/<id>/network`, `#/session/<id>/console`, `#/breakpoints`,
 * `#/health`, `#/tapes`, `#/tape/<id>` and `#/tape/<id>/message/<seq>`.
 */
export type View = 'protocol' | 'network' | 'console' | 'breakpoints' | 'health' | 'tapes' | 'tape';

export interface Route {
  view: View;
  /** The session shown (protocol, network, console). */
  session: string | undefined;
  /** The tape shown (tape). */
  tape?: string | undefined;
  message: number | undefined;
}

const SESSION = /^#\/session\/([^/]+)(?:\/(?:message\/(\d{1,15})|(network|console)))?$/;
const TAPE = /^#\/tape\/([^/]+)(?:\/message\/(\d{1,15}))?$/;
const PLAIN: Readonly<Record<string, View>> = {
  '#/breakpoints': 'breakpoints',
  '#/health': 'health',
  '#/tapes': 'tapes',
};
const NOWHERE: Route = { view: 'protocol', session: undefined, message: undefined };

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function parseRoute(hash: string): Route {
  const plain = PLAIN[hash];
  if (plain) return { view: plain, session: undefined, message: undefined };
  const tape = TAPE.exec(hash);
  if (tape?.[1]) {
    const id = decoded(tape[1]);
    if (id === undefined) return NOWHERE;
    return {
      view: 'tape',
      session: undefined,
      tape: id,
      message: tape[2] === undefined ? undefined : Number(tape[2]),
    };
  }
  const m = SESSION.exec(hash);
  if (!m?.[1]) return NOWHERE;
  const session = decoded(m[1]);
  if (session === undefined) return NOWHERE;
  const view = (m[3] as View | undefined) ?? 'protocol';
  return { view, session, message: m[2] === undefined ? undefined : Number(m[2]) };
}

/** The link to a session (and a message in it, or one of its other views); with no session, the start page. */
export function hrefOf(route: {
  session: string | undefined;
  message: number | undefined;
  view?: View | undefined;
}): string {
  if (route.session === undefined) return '#/';
  const base = `#/session/${encodeURIComponent(route.session)}`;
  if (route.view === 'network' || route.view === 'console') return `${base}/${route.view}`;
  return route.message === undefined ? base : `${base}/message/${route.message}`;
}

/** The link to a tape (and a message in it). */
export function tapeHref(tape: string, message?: number): string {
  const base = `#/tape/${encodeURIComponent(tape)}`;
  return message === undefined ? base : `${base}/message/${message}`;
}
