// 20 interception rules that match no message of the bench (tools and methods it never calls), for the
// bench row that prices them and for bench/rulesCost.mjs. Returns the path of a JSON rules file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function writeRules20() {
  const file = join(mkdtempSync(join(tmpdir(), 'mcpscope-bench-rules-')), 'rules.json');
  writeFileSync(
    file,
    JSON.stringify({
      rules: Array.from({ length: 20 }, (_, i) => ({
        name: `unused-${i}`,
        match:
          i % 2 === 0
            ? { method: 'tools/call', tool: `nope_${i}`, arguments: { q: { regex: '^x' } } }
            : { method: `nothing/${i}` },
        action: { error: { code: -32050, message: 'never' } },
      })),
    }),
  );
  return file;
}
