import { Command } from 'commander';

interface Row {
  name: string;
  health: number;
  calls: number;
  errorRate: number;
  p95Ms: number | null;
}

const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';

function colour(health: number, tty: boolean): string {
  const text = String(health).padStart(3);
  if (!tty) return text;
  const code = health >= 90 ? 32 : health >= 70 ? 33 : 31;
  return `\u001b[${code}m${text}\u001b[0m`;
}

async function fetchJson(base: string, path: string, token: string | undefined): Promise<unknown> {
  const res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
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
    return JSON.stringify(
      { system, upstreams: upstreams.items, tools: tools.items, trends: trends.items },
      null,
      2,
    );
  const lines = [
    `mcpscope at ${base}: health ${colour(system.health, tty)}, ${system.sessions.active} active sessions ` +
      `(${system.sessions.total} in all), up ${system.uptime_s} s`,
    '',
    `${'kind'.padEnd(9)}${'name'.padEnd(32)}health  calls/5m  errors  p95 ms  trend`,
  ];
  const trendOf = (kind: string, name: string) =>
    trends.items
      .filter((t) => t.kind === kind && t.name === name)
      .map((t) => `${t.metric} ${t.direction}`)
      .join(', ');
  for (const [kind, rows] of [
    ['upstream', upstreams.items],
    ['tool', tools.items],
  ] as const) {
    for (const r of rows) {
      lines.push(
        `${kind.padEnd(9)}${r.name.slice(0, 31).padEnd(32)}${colour(r.health, tty)}   ${String(r.calls).padStart(8)}  ` +
          `${`${(r.errorRate * 100).toFixed(1)}%`.padStart(6)}  ${(r.p95Ms === null ? '-' : r.p95Ms.toFixed(1)).padStart(6)}  ${trendOf(kind, r.name)}`,
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
