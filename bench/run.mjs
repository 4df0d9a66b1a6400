#!/usr/bin/env node
// Placeholder until the benchmark harness lands: it says so and exits non-zero, so nobody mistakes it for figures.
console.error('mcpscope bench: not implemented yet (the benchmark harness is its own issue).');
process.exit(1);
