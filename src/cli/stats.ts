import { Command } from 'commander';
import { safeJson, safeText } from './terminal.js';

interface Row {
  name: string;
  health: number;
  calls: number;
  errorRate: number;
  p95Ms: number | null;
}

const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';

function colour(health: number, tty: boolean): string {
  const text = safeText(health).padStart(3);
  if (!tty) return text;
  const code = health >= 90 ? 32 : health >= 70 ? 33 : 31;
  return `\u001b[${code}m${text}\u001b[0m`;
}

async function fetchJson(base: string, path: string, token: string | undefined): Promise<unknown> {
  const res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${safeText(await res.text())}`);
  return res.json();
}

/** The health table: one line per upstream and per tool, worst first. */
async function render(
  base: string,
  token: string | undefined,
  asJson: boolean,
  tty: boolean,
): Promise<string> {
  const [system, upstreams, tools, trends] = (await Promise.all([
    fetchJson(base, '/stats', token),
    fetchJson(base, '/stats/upstreams?sort=health', token),
    fetchJson(base, '/stats/tools?sort=health&limit=1000', token),
    fetchJson(base, '/trends', token),
  ])) as [
    { health: number; sessions: { active: number; total: number }; uptime_s: number },
    { items: Row[] },
    { items: Row[] },
    { items: Array<{ kind: string; name: string; metric: string; direction: string; confidence: number }> },
  ];
  if (asJson)
    return safeJson({ system, upstreams: upstreams.items, tools: tools.items, trends: trends.items }, 2);
  // Names are the upstreams' and the clients' (tool names), and the figures come from a server: all go
  // through safeText.
  const t = safeText;
  const lines = [
    `mcpscope at ${t(base)}: health ${colour(system.health, tty)}, ${t(system.sessions.active)} active sessions ` +
      `(${t(system.sessions.total)} in all), up ${t(system.uptime_s)} s`,
    '',
    `${'kind'.padEnd(9)}${'name'.padEnd(32)}health  calls/5m  errors  p95 ms  trend`,
  ];
  const trendOf = (kind: string, name: string) =>
    trends.items
      .filter((x) => x.kind === kind && x.name === name)
      .map((x) => `${t(x.metric)} ${t(x.direction)}`)
      .join(', ');
  for (const [kind, rows] of [
    ['upstream', upstreams.items],
    ['tool', tools.items],
  ] as const) {
    for (const r of rows) {
      lines.push(
        `${kind.padEnd(9)}${t(r.name).slice(0, 31).padEnd(32)}${colour(r.health, tty)}   ${t(r.calls).padStart(8)}  ` +
          `${`${(Number(r.errorRate) * 100).toFixed(1)}%`.padStart(6)}  ${(typeof r.p95Ms === 'number' ? r.p95Ms.toFixed(1) : '-').padStart(6)}  ${trendOf(kind, r.name)}`,
      );
    }
  }
  return lines.join('\n');
}

/** `mcpscope stats`: the health table of a running mcpscope, from its admin API. */
export function statsCommand(): Command {
  return new Command('stats')
    .description('print the health of upstreams and tools of a running mcpscope (from its admin API)')
    .option('--url <url>', 'admin server of the mcpscope to ask', DEFAULT_ADMIN_URL)
    .option('--token <token>', 'admin token, when the admin server needs one (or MCPSCOPE_ADMIN_TOKEN)')
    .option('--watch [seconds]', 'refresh every few seconds (default 2)')
    .option('--json', 'print the raw JSON instead of a table', false)
    .action(async (opts: { url: string; token?: string; watch?: string | boolean; json: boolean }) => {
      const token = opts.token ?? process.env.MCPSCOPE_ADMIN_TOKEN;
      const tty = process.stdout.isTTY === true;
      const once = async () => {
        try {
          return await render(opts.url.replace(/\/$/, ''), token, opts.json, tty);
        } catch (err) {
          throw new Error(
            `cannot read ${opts.url}: ${(err as Error).message}; is mcpscope running with its admin server there? (--url)`,
          );
        }
      };
      if (!opts.watch) {
        console.log(await once());
        return;
      }
      const seconds = opts.watch === true ? 2 : Number(opts.watch);
      for (;;) {
        const text = await once().catch((err: Error) => err.message);
        if (tty) process.stdout.write('\u001b[2J\u001b[H');
        console.log(text);
        await new Promise((r) => setTimeout(r, seconds * 1000));
      }
    });
}
