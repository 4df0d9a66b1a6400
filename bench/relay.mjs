#!/usr/bin/env node
// The floor of any proxy process on the stdio path: `node bench/relay.mjs <command> [args…]` spawns the
// command and copies bytes both ways, parsing nothing. What it adds over a direct connection is the cost of
// the extra process itself (two more pipe hops and wake-ups per call on this machine); what mcpscope adds
// over it is mcpscope's own work.
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.on('data', (chunk) => child.stdin.write(chunk));
process.stdin.on('end', () => child.stdin.end());
child.stdout.on('data', (chunk) => process.stdout.write(chunk));
child.on('exit', (code) => process.exit(code ?? 1));
