#!/usr/bin/env node
// Writes docs/rules.schema.json, the JSON Schema of a --rules file for editors, from the zod schema that
// validates rules (dist/intercept/rules.js: run `npm run build` first). `--check` fails when the file
// differs from what the schema makes (a test runs it).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RulesFileSchema } from '../dist/intercept/rules.js';

const out = fileURLToPath(new URL('../docs/rules.schema.json', import.meta.url));
const schema = {
  ...z.toJSONSchema(RulesFileSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
  title: 'mcpscope interception rules (--rules FILE)',
  description: 'See docs/interception.md. Rules are tried in file order; the first whose match fits acts.',
};
const text = `${JSON.stringify(schema, null, 2)}\n`;
if (process.argv.includes('--check')) {
  const current = readFileSync(out, 'utf8');
  if (current !== text) {
    console.error('docs/rules.schema.json is out of date: run npm run docs:rules-schema');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
  console.log('docs/rules.schema.json written');
}
