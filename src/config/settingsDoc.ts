import { configSchema } from './schema.js';
import { SETTING_ENTRIES, envName, type Setting, type SettingCommand } from './settings.js';

/** README's settings table sits between these markers; `npm run docs:settings` rewrites what is between. */
export const SETTINGS_START = '<!-- settings:start -->';
export const SETTINGS_END = '<!-- settings:end -->';

const code = (text: string): string => `\`${text}\``;

/** Plain text in a table cell: what markdown (or Prettier) would read as emphasis or a cell break. */
const escape = (text: string): string => text.replace(/[*|]/g, (c) => `\\${c}`);

function commandsOf(setting: Setting): string {
  const has = (c: SettingCommand): boolean => setting.commands.includes(c);
  if (has('forward stdio') && has('forward http')) {
    if (has('replay')) return has('gateway') ? 'all' : 'forward, replay';
    return has('gateway') ? 'forward, gateway' : 'forward';
  }
  return setting.commands.join(', ');
}

function defaultOf(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (Array.isArray(value)) {
    if (value.length > 4)
      return `${code(String(value[0]))} … ${code(String(value.at(-1)))} (${value.length})`;
    return value.length === 0 ? '' : code(value.join(','));
  }
  if (typeof value === 'object' && value !== null)
    return Object.keys(value).length === 0 ? '' : code(JSON.stringify(value));
  return code(String(value));
}

/** One row per setting, in table order, aligned as Prettier aligns markdown tables. */
export function settingsTable(): string {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  const head = ['flag', 'env variable', 'config key', 'default', 'commands', 'meaning'];
  const rows = SETTING_ENTRIES.map(([key, setting]) => [
    setting.flag === undefined ? '' : code(setting.flag),
    setting.flag === undefined ? '' : code(envName(key)),
    code(key),
    defaultOf(defaults[key]),
    commandsOf(setting),
    setting.docs === undefined ? escape(setting.help) : `${escape(setting.help)}; ${setting.docs}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `readme` with the text between the settings markers replaced by the current table. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(SETTINGS_START);
  const end = readme.indexOf(SETTINGS_END);
  if (start < 0 || end < start)
    throw new Error(`README needs ${SETTINGS_START} … ${SETTINGS_END} around the settings table`);
  return `${readme.slice(0, start + SETTINGS_START.length)}\n\n${settingsTable()}\n\n${readme.slice(end)}`;
}
