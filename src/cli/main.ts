#!/usr/bin/env node
// mcpscope's entry point. `mcpscope --version` answers before anything is loaded; every other command
// loads the command line (./program.ts), which loads what its command needs. An MCP client that starts
// `mcpscope forward stdio -- <server>` waits for mcpscope before its server even starts: see
// docs/performance.md, "Cold start".
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // As src/version.ts reads it, from here (dist/cli/, bundled or not): no module of mcpscope is loaded.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  process.stdout.write(`${pkg.version}\n`);
} else {
  // forward stdio -- <server>: the server starts now and boots while the rest loads (src/process/earlySpawn.ts).
  if (args[0] === 'forward' && args[1] === 'stdio')
    (await import('../process/earlySpawn.js')).spawnEarly(args);
  await import('./program.js');
}
