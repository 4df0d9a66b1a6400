import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';

/**
 * Keep what a child's pipe receives while nothing reads it yet; returns what lets the reader in. Without a
 * 'readable' listener, Node throws away the unread output of a child that exits (child_process resumes its
 * unread streams at exit), so a server that crashes before its session takes it would lose its stderr.
 */
export function holdOutput(stream: Readable): () => void {
  const hold = (): void => {};
  stream.on('readable', hold);
  return () => void stream.removeListener('readable', hold);
}

/**
 * `mcpscope forward stdio [flags] -- <command…>`: the server's process is started by the entry point
 * (src/cli/main.ts) before the command line and the proxy are loaded, so that the server boots meanwhile;
 * the ProcessManager then adopts it (takeEarly) instead of spawning the same command again. Its output is
 * left unread until then (the pipes hold it). A run that never adopts it (a usage error, a config that
 * names an --upstream URL, --help) stops it when mcpscope exits: the server was started for nothing, and
 * stopped at once.
 */
export interface EarlyProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** performance.now() when it was spawned. */
  readonly startedAt: number;
  /** Resolves once it runs; rejects with the spawn error. */
  readonly spawned: Promise<void>;
  /** Let a reader have stdout and stderr (held until then: holdOutput). */
  readonly releaseStdout: () => void;
  readonly releaseStderr: () => void;
}

interface Early extends EarlyProcess {
  readonly command: string;
  readonly args: readonly string[];
  failed: boolean;
}

let early: Early | undefined;

/** Start the server of `forward stdio … -- <command…>` now, if `argv` (without node and script) is one. */
export function spawnEarly(argv: readonly string[]): void {
  if (argv[0] !== 'forward' || argv[1] !== 'stdio') return;
  const end = argv.indexOf('--');
  const command = argv[end + 1];
  if (end === -1 || command === undefined) return;
  // Help asked for, or a URL given as well (a usage error): nothing to start.
  if (argv.slice(2, end).some((a) => a === '-h' || a === '--help' || a.startsWith('--upstream'))) return;
  const args = argv.slice(end + 2);
  const startedAt = performance.now();
  // As ManagedProcess spawns it: its own process group, every stream a pipe.
  const child = spawn(command, args, { env: process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err) => {
      entry.failed = true;
      reject(err);
    });
  });
  spawned.catch(() => undefined);
  // The child may die while nothing reads its input yet.
  child.stdin.on('error', () => {});
  const entry: Early = {
    command,
    args,
    child,
    startedAt,
    spawned,
    releaseStdout: holdOutput(child.stdout),
    releaseStderr: holdOutput(child.stderr),
    failed: false,
  };
  early = entry;
  process.once('exit', () => {
    if (early !== entry || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone already
    }
  });
}

/**
 * The process spawnEarly() started for exactly this command, once; undefined when there is none, when it
 * could not start (the caller's own spawn then reports why) or when `spec` is another command.
 */
export function takeEarly(spec: {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): EarlyProcess | undefined {
  const e = early;
  if (!e || e.failed) return undefined;
  const same =
    spec.env === undefined &&
    spec.cwd === undefined &&
    spec.command === e.command &&
    spec.args.length === e.args.length &&
    spec.args.every((a, i) => a === e.args[i]);
  if (!same) return undefined;
  early = undefined;
  return e;
}
