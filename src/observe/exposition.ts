// What a scraper of /metrics asks for, apart from the metrics (the admin server reads it without loading
// prom-client).

/** How /metrics is written: Prometheus text 0.0.4, or OpenMetrics 1.0 (with exemplars). */
export type ExpositionFormat = 'prometheus' | 'openmetrics';

/**
 * The format a scraper's Accept header asks for: OpenMetrics when it names it with a quality above zero
 * and at least that of plain text (Prometheus sends `application/openmetrics-text;version=1.0.0,…`).
 */
export function expositionFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  let open = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q ? Number(q.slice(2)) : 1;
    if (!Number.isFinite(quality)) continue;
    if (type === 'application/openmetrics-text') open = Math.max(open, quality);
    else if (type === 'text/plain' || type === '*/*') text = Math.max(text, quality);
  }
  return open > 0 && open >= text ? 'openmetrics' : 'prometheus';
}
