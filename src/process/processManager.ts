import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McpscopeError } from '../jsonrpc/errors.js';
import type { EventSink, ShutdownResult } from '../session/events.js';
import { holdOutput, takeEarly, type EarlyProcess } from './earlySpawn.js';

/** Default grace between SIGTERM and SIGKILL (5 s). */
export const DEFAULT_GRACE_MS = 5_000;
/** How long a child may take to exit on its own once its stdin is closed, before SIGTERM. */
export const STDIN_CLOSE_WAIT_MS = 500;
/** How much of a child's stderr is kept for error messages (8 KiB). */
export const STDERR_TAIL_BYTES = 8 * 1024;
/** Longest stderr line reported as an event (longer ones are cut); a partial line waits at most this much. */
export const STDERR_LINE_CHARS = 2_000;

export interface ProcessSpec {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessManagerOptions {
  logger: Logger;
  /** Default DEFAULT_GRACE_MS. */
  graceMs?: number;
  /** Copy the child's stderr to ours (default true). */
  passStderr?: boolean;
}

/** A child process under supervision: its streams, its stderr tail and how it ended. */
export class ManagedProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly spec: ProcessSpec;
  readonly startedAt: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Let the reader of stdout have it: until then what the child writes is kept (see holdOutput). */
  readonly releaseStdout: () => void;
  #exit: ExitInfo | undefined;
  #stopping = false;
  #stderrTail: Buffer = Buffer.alloc(0);
  readonly #graceMs: number;
  readonly #emit: EventSink | undefined;
  /** A stderr line not ended yet. */
  #partial = '';

  constructor(
    spec: ProcessSpec,
    graceMs: number,
    passStderr: boolean,
    emit: EventSink | undefined,
    adopted?: EarlyProcess,
  ) {
    this.spec = spec;
    this.#graceMs = graceMs;
    this.#emit = emit;
    this.startedAt = adopted?.startedAt ?? performance.now();
    // Own process group, so that stop() reaches grandchildren (`sh -c`, `npx …`) too (spawnEarly() too).
    this.child =
      adopted?.child ??
      spawn(spec.command, spec.args, {
        env: spec.env ?? process.env,
        cwd: spec.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
    // Held until its reader starts (StdioClientTransport reads it once the session takes the process).
    this.releaseStdout = adopted?.releaseStdout ?? holdOutput(this.child.stdout);
    adopted?.releaseStderr();
    this.exited = new Promise((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.#exit = { code, signal };
        if (this.#partial) this.#stderrLine(this.#partial);
        this.#emit?.({
          type: 'process-exited',
          pid: this.child.pid,
          code,
          signal,
          lifetimeSeconds: (performance.now() - this.startedAt) / 1000,
          crashed: !this.#stopping,
        });
        resolve(this.#exit);
      };
      // An adopted process may have exited before it was adopted.
      const child = this.child;
      if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
      else child.once('exit', onExit);
      this.child.once('error', () => {
        // spawn failures (ENOENT) emit 'error' without 'exit'.
        if (this.child.pid === undefined && !this.#exit) {
          this.#exit = { code: null, signal: null };
          resolve(this.#exit);
        }
      });
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      if (passStderr) process.stderr.write(chunk);
      const joined = this.#stderrTail.length === 0 ? chunk : Buffer.concat([this.#stderrTail, chunk]);
      this.#stderrTail =
        joined.length > STDERR_TAIL_BYTES ? joined.subarray(joined.length - STDERR_TAIL_BYTES) : joined;
      if (this.#emit) this.#stderrLines(chunk);
    });
    // The child may die while we write: EPIPE is reported through 'exit', not as a crash of ours.
    this.child.stdin.on('error', () => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Report what the child wrote to stderr line by line (bounded: an endless line is cut). */
  #stderrLines(chunk: Buffer): void {
    const text = this.#partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#partial = (lines.pop() as string).slice(0, STDERR_LINE_CHARS);
    for (const line of lines) this.#stderrLine(line);
  }

  #stderrLine(line: string): void {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    this.#emit?.({ type: 'stderr', line: trimmed.slice(0, STDERR_LINE_CHARS) });
    this.#partial = '';
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  /** True once stop() was called: an exit after that is expected. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The last lines the child wrote to stderr (at most STDERR_TAIL_BYTES), trimmed. */
  stderrTail(maxChars = 500): string {
    const text = this.#stderrTail.toString('utf8').trim();
    return text.length > maxChars ? `…${text.slice(text.length - maxChars)}` : text;
  }

  /** Describe an unexpected exit for people: code or signal, last stderr, what to do. */
  exitError(info: ExitInfo): McpscopeError {
    const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code ?? 'unknown'}`;
    const tail = this.stderrTail();
    const cmd = [this.spec.command, ...this.spec.args].join(' ');
    return new McpscopeError(
      'UPSTREAM_EXITED',
      `upstream server \`${cmd}\` ${how}${tail ? ` (last stderr: ${tail})` : ''}; fix the server or its command line`,
      { details: { exitCode: info.code, signal: info.signal } },
    );
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.#exit) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Stop gracefully, as the MCP spec's stdio shutdown says: close stdin, wait, SIGTERM, wait the grace
   * period, SIGKILL. The whole process group is signalled. Resolves with how it ended.
   */
  async stop(): Promise<ExitInfo> {
    if (this.#exit) {
      this.#stopping = true;
      return this.#exit;
    }
    this.#stopping = true;
    const t0 = performance.now();
    const result = await this.#stopSteps();
    // The group leader is gone; make sure nothing it started is left behind.
    this.#signalGroupAfterExit('SIGKILL');
    this.#emit?.({
      type: 'process-stopped',
      pid: this.child.pid,
      result,
      seconds: (performance.now() - t0) / 1000,
    });
    return this.exited;
  }

  async #stopSteps(): Promise<ShutdownResult> {
    this.child.stdin.end();
    if (await this.#waitExit(Math.min(STDIN_CLOSE_WAIT_MS, this.#graceMs))) return 'graceful';
    this.#signal('SIGTERM');
    if (await this.#waitExit(this.#graceMs)) return 'terminated';
    this.#signal('SIGKILL');
    await this.exited;
    return 'killed';
  }

  #signalGroupAfterExit(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // no process left in the group
    }
  }

  #waitExit(ms: number): Promise<boolean> {
    if (this.#exit) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/**
 * Whether `command` can be started: a path to an executable file, or a name found on `PATH`. Returns the
 * reason it cannot, for an error message, or undefined when it can.
 */
export function commandProblem(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const executable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    return executable(command) ? undefined : `${command} is not an executable file`;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, command))) return undefined;
  }
  return `${command} was not found on PATH`;
}

/** Spawns and supervises upstream server processes; stops them all on shutdown. */
export class ProcessManager {
  readonly #processes = new Set<ManagedProcess>();
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #passStderr: boolean;
  #lastStartFailure: McpscopeError | undefined;

  constructor(options: ProcessManagerOptions) {
    this.#logger = options.logger;
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.#passStderr = options.passStderr ?? true;
  }

  get size(): number {
    return this.#processes.size;
  }

  /** Why the last spawn failed, until a spawn succeeds again (for /ready). */
  get lastStartFailure(): McpscopeError | undefined {
    return this.#lastStartFailure;
  }

  /**
   * Spawn a child; resolves once it is running, rejects with UPSTREAM_EXITED if it cannot start. Its
   * start, exit, stop and stderr lines go to `emit` (its session's event stream).
   */
  async spawn(spec: ProcessSpec, emit?: EventSink): Promise<ManagedProcess> {
    // `forward stdio`: the entry point may have started this very command already (see earlySpawn.ts).
    const early = takeEarly(spec);
    const proc = new ManagedProcess(spec, this.#graceMs, this.#passStderr, emit, early);
    this.#processes.add(proc);
    void proc.exited.then((info) => {
      this.#processes.delete(proc);
      this.#logger.debug({ pid: proc.pid, ...info, expected: proc.stopping }, 'upstream process exited');
    });
    try {
      await new Promise<void>((resolve, reject) => {
        if (early) early.spawned.then(resolve, () => undefined);
        else proc.child.once('spawn', () => resolve());
        proc.child.once('error', (err: NodeJS.ErrnoException) => {
          const cmd = [spec.command, ...spec.args].join(' ');
          reject(
            new McpscopeError(
              'UPSTREAM_EXITED',
              `could not start upstream server \`${cmd}\`: ${err.code ?? err.message}; check the command and PATH`,
              { cause: err },
            ),
          );
        });
      });
    } catch (err) {
      this.#lastStartFailure = err as McpscopeError;
      throw err;
    }
    this.#lastStartFailure = undefined;
    emit?.({
      type: 'process-started',
      pid: proc.pid,
      command: spec.command,
      spawnSeconds: (performance.now() - proc.startedAt) / 1000,
    });
    this.#logger.debug({ pid: proc.pid, command: spec.command }, 'upstream process started');
    return proc;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.#processes].map((p) => p.stop()));
  }
}
