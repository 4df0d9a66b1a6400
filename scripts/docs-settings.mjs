// Rewrites README's settings table (between <!-- settings:start --> and <!-- settings:end -->) from the
// settings table in src/config/settings.ts. Run with `npm run docs:settings` (it builds dist first).
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTable } from '../dist/config/settingsDoc.js';

const readme = new URL('../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = withSettingsTable(before);
if (after === before) {
  console.log('README.md: the settings table is up to date');
} else {
  writeFileSync(readme, after);
  console.log('README.md: settings table rewritten');
}
