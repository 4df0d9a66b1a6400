/**
 * Deep links live in the URL's fragment (never sent to the server): `#/session/<id>`,
 * `#/session/<id>/message/<seq>` and `#/breakpoints`.
 */
export interface Route {
  view: 'protocol' | 'breakpoints';
  session: string | undefined;
  message: number | undefined;
}

const SESSION = /^#\/session\/([^/]+)(?:\/message\/(\d{1,15}))?$/;
const NOWHERE: Route = { view: 'protocol', session: undefined, message: undefined };

export function parseRoute(hash: string): Route {
  if (hash === '#/breakpoints') return { view: 'breakpoints', session: undefined, message: undefined };
  const m = SESSION.exec(hash);
  if (!m?.[1]) return NOWHERE;
  let session: string;
  try {
    session = decodeURIComponent(m[1]);
  } catch {
    return NOWHERE;
  }
  return { view: 'protocol', session, message: m[2] === undefined ? undefined : Number(m[2]) };
}

/** The link to a session (and a message in it); with no session, the start page. */
export function hrefOf(route: { session: string | undefined; message: number | undefined }): string {
  if (route.session === undefined) return '#/';
  const base = `#/session/${encodeURIComponent(route.session)}`;
  return route.message === undefined ? base : `${base}/message/${route.message}`;
}
