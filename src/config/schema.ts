import { z } from 'zod';
import { SETTINGS } from './settings.js';

type Shape = { [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K]['type'] };

function shapeOf(settings: typeof SETTINGS): Shape {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, setting] of Object.entries(settings)) shape[key] = setting.type;
  return shape as Shape;
}

/**
 * Every setting mcpscope reads, with its default, built from the settings table (src/config/settings.ts).
 * Flags, MCPSCOPE_* env and the config file all feed it.
 */
export const configSchema = z.object(shapeOf(SETTINGS)).strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigKey = keyof Config;

export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];
