import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, configSchema } from '../../src/config/schema.js';
import { SETTING_ENTRIES, envName } from '../../src/config/settings.js';
import { SETTINGS_END, SETTINGS_START, withSettingsTable } from '../../src/config/settingsDoc.js';

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
});
