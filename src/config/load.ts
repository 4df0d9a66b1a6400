import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { McpscopeError } from '../jsonrpc/errors.js';
import { CONFIG_KEYS, configSchema, type Config, type ConfigKey } from './schema.js';

export { envName } from './settings.js';

export type ValueSource = 'cli' | 'env' | 'file' | 'default';

/** One setting as given, and where it came from (for error messages). */
export interface GivenValue {
  value: unknown;
  source: ValueSource;
  /** The flag or variable a person would change, e.g. `--port` or `MCPSCOPE_PORT`. */
  origin: string;
}

/** Read a JSON config file; its keys are the camelCase setting names. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new McpscopeError('CONFIG_INVALID', `cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `config file ${path} is not a JSON object: ${(err as Error).message}`,
    );
  }
}

/**
 * Merge settings (flags and env win over the file, the file over defaults) and validate them once with zod.
 * An invalid value throws CONFIG_INVALID naming the key, the value, where it came from and what is allowed.
 */
export function resolveConfig(
  given: Partial<Record<ConfigKey, GivenValue>>,
  file: Record<string, unknown> = {},
  filePath = 'config file',
): Config {
  const unknownKeys = Object.keys(file).filter((k) => !(CONFIG_KEYS as string[]).includes(k));
  if (unknownKeys.length > 0) {
    throw new McpscopeError(
      'CONFIG_INVALID',
      `unknown key(s) ${unknownKeys.join(', ')} in ${filePath}; allowed keys: ${CONFIG_KEYS.join(', ')}`,
    );
  }
  const merged: Record<string, unknown> = {};
  const origins: Partial<Record<string, string>> = {};
  for (const key of CONFIG_KEYS) {
    const g = given[key];
    if (g && (g.source === 'cli' || g.source === 'env')) {
      merged[key] = g.value;
      origins[key] = g.origin;
    } else if (key in file) {
      merged[key] = file[key];
      origins[key] = `${filePath} key "${key}"`;
    } else if (g && g.value !== undefined) {
      merged[key] = g.value;
      origins[key] = 'default';
    }
  }
  const parsed = configSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const key = String(issue.path[0] ?? '');
  const value = merged[key];
  throw new McpscopeError(
    'CONFIG_INVALID',
    `invalid setting ${key} = ${JSON.stringify(value)} (from ${origins[key] ?? 'default'}): ${issue.message}`,
    { details: { key, value } },
  );
}
