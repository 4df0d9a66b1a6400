import pino, { type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Write to this file instead of stderr. stdout is never used: it may be the protocol channel. */
  file?: string | undefined;
}

/**
 * mcpscope's logger: pino, to stderr (fd 2) or a file, never stdout. Secrets never reach it: headers are not
 * logged, and message bodies are logged only by size and method.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = pino.destination({
    dest: options.file ?? 2,
    sync: options.file === undefined,
    mkdir: true,
  });
  return pino(
    {
      name: 'mcpscope',
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: {
        paths: ['headers.authorization', 'headers.cookie', '*.authorization', 'token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** A logger that writes nothing, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
