/** Deep links live in the URL's fragment: `#/session/<id>` and `#/session/<id>/message/<seq>`. */
export interface Route {
  session: string | undefined;
  message: number | undefined;
}

const PATTERN = /^#\/session\/([^/]+)(?:\/message\/(\d{1,15}))?$/;

export function parseRoute(hash: string): Route {
  const m = PATTERN.exec(hash);
  if (!m?.[1]) return { session: undefined, message: undefined };
  let session: string;
  try {
    session = decodeURIComponent(m[1]);
  } catch {
    return { session: undefined, message: undefined };
  }
  return { session, message: m[2] === undefined ? undefined : Number(m[2]) };
}

export function hrefOf(route: Route): string {
  if (route.session === undefined) return '#/';
  const base = `#/session/${encodeURIComponent(route.session)}`;
  return route.message === undefined ? base : `${base}/message/${route.message}`;
}
