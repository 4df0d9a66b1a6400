import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { McpscopeError } from '../jsonrpc/errors.js';
import { TAPE_EXTENSION } from './format.js';

/** Where `--record` writes when examples say so, and where tape commands look by default. */
export const DEFAULT_TAPE_DIR = './tapes';

/** The tape files in a directory, oldest first (their names start with the start time). */
export async function listTapeFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new McpscopeError(
      'TAPE_INVALID',
      code === 'ENOENT'
        ? `no tape directory at ${dir}; record one with \`mcpscope forward stdio --record ${dir} -- <server>\``
        : `cannot read ${dir}: ${(err as Error).message}`,
    );
  }
  return names
    .filter((n) => n.endsWith(TAPE_EXTENSION))
    .sort()
    .map((n) => join(dir, n));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * A tape named on the command line: a path, an id in `dir`, a unique prefix of one, or `latest`.
 * A directory is refused with the name of its newest tape, so the next command is one copy away.
 */
export async function resolveTape(arg: string, dir = DEFAULT_TAPE_DIR): Promise<string> {
  if (await isFile(arg)) return arg;
  const isDir = await stat(arg).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isDir) {
    const files = await listTapeFiles(arg);
    throw new McpscopeError(
      'TAPE_INVALID',
      files.length > 0
        ? `${arg} is a directory of ${files.length} tapes; name one, e.g. ${files.at(-1)} (\`mcpscope tape list ${arg}\` shows them all)`
        : `${arg} is a directory with no tapes in it`,
    );
  }
  const files = await listTapeFiles(dir).catch(() => [] as string[]);
  if (arg === 'latest' && files.length > 0) return files.at(-1) as string;
  // Compare ids, never slices of path strings: `join` normalises `./tapes` to `tapes` and `x/` to `x`, so
  // a listed path need not start with `dir` as written. Every listed file sits in `dir`; its name is its id.
  const prefix = arg.endsWith(TAPE_EXTENSION) ? arg.slice(0, -TAPE_EXTENSION.length) : arg;
  const matches = files.filter((f) => basename(f).startsWith(prefix));
  if (matches.length === 1) return matches[0] as string;
  if (matches.length > 1) {
    throw new McpscopeError(
      'TAPE_INVALID',
      `"${arg}" names ${matches.length} tapes in ${dir}; give more of the id (\`mcpscope tape list ${dir}\`)`,
    );
  }
  throw new McpscopeError(
    'TAPE_INVALID',
    `no tape "${arg}" (not a file, and no tape id in ${dir} starts with it); \`mcpscope tape list <dir>\` shows the recorded ones`,
  );
}
