import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FEED_BODY_BYTES,
  DEFAULT_FEED_CLOSED_SESSIONS,
  DEFAULT_FEED_EVENTS,
} from '../../src/admin/feed.js';
import { resolveConfig } from '../../src/config/load.js';
import { CONFIG_KEYS, configSchema } from '../../src/config/schema.js';
import { SETTING_ENTRIES, envName } from '../../src/config/settings.js';
import { SETTINGS_END, SETTINGS_START, withSettingsTable } from '../../src/config/settingsDoc.js';
import type { McpscopeError } from '../../src/jsonrpc/errors.js';

const section = (text: string): string =>
  text.slice(text.indexOf(SETTINGS_START), text.indexOf(SETTINGS_END) + SETTINGS_END.length);

describe('the settings table', () => {
  it("is README's settings table (run `npm run docs:settings` after changing a setting)", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(section(readme)).toBe(section(withSettingsTable(readme)));
  });

  it('is the config schema, key for key', () => {
    expect(CONFIG_KEYS).toEqual(SETTING_ENTRIES.map(([key]) => key));
  });

  it('gives each setting its own flag and variable, and boolean flags the right sense', () => {
    const flags = SETTING_ENTRIES.flatMap(([, s]) => (s.flag === undefined ? [] : [s.flag.split(' ')[0]]));
    expect(new Set(flags).size).toBe(flags.length);
    const envs = SETTING_ENTRIES.map(([key]) => envName(key));
    expect(new Set(envs).size).toBe(envs.length);
    const defaults = configSchema.parse({}) as Record<string, unknown>;
    for (const [key, s] of SETTING_ENTRIES) {
      if (s.flag === undefined || s.flag.includes('<')) continue;
      // `--no-x` turns off what is on by default; a bare `--x` turns on what is off.
      expect([key, defaults[key]]).toEqual([key, s.flag.startsWith('--no-')]);
    }
  });

  it('declares the live feed with the bounds of src/admin/feed.ts', () => {
    expect(resolveConfig({})).toMatchObject({
      feed: true,
      feedEvents: DEFAULT_FEED_EVENTS,
      feedClosedSessions: DEFAULT_FEED_CLOSED_SESSIONS,
      feedBodyBytes: DEFAULT_FEED_BODY_BYTES,
    });
    const c = resolveConfig({
      feed: { value: 'false', source: 'env', origin: 'MCPSCOPE_FEED' },
      feedEvents: { value: '1', source: 'cli', origin: '--feed-events' },
      feedClosedSessions: { value: '0', source: 'cli', origin: '--feed-closed-sessions' },
      feedBodyBytes: { value: '256', source: 'cli', origin: '--feed-body-bytes' },
    });
    expect(c).toMatchObject({ feed: false, feedEvents: 1, feedClosedSessions: 0, feedBodyBytes: 256 });
    for (const [key, value] of [
      ['feedEvents', '0'],
      ['feedClosedSessions', '-1'],
      ['feedBodyBytes', '255'],
    ] as const) {
      try {
        resolveConfig({ [key]: { value, source: 'cli', origin: key } });
        expect.unreachable();
      } catch (err) {
        expect((err as McpscopeError).code).toBe('CONFIG_INVALID');
      }
    }
  });
});
