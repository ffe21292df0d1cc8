// Crash-safe file writes: the data goes to a temporary file in the same folder, is
// flushed to disk, and only then renamed over the target, so the target name always
// holds either the previous complete file or the new complete file.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** The temporary name used while `path` is being written. */
export function temporaryPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let written = 0;
  while (written < chunk.byteLength) written += writeSync(fd, chunk, written, chunk.byteLength - written);
}

function ignoreFailure(action: () => void): void {
  try {
    action();
  } catch {
    // Nothing more to do.
  }
}

/** Makes the rename itself durable; some file systems refuse to open a folder, which is fine. */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: the data itself is already on disk.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** An error about `path` itself (its folder), without the temporary name the user never asked for. */
function openFailure(error: unknown, path: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const folder = dirname(path);
  const reason =
    code === 'ENOENT' ? `the folder '${folder}' does not exist`
    : code === 'EACCES' || code === 'EPERM' ? `no permission to write in '${folder}'`
    : code === 'ENOTDIR' ? `'${folder}' is not a folder`
    : (error as Error).message.replace(/ '[^']*\.tmp-[^']*'/, '');
  // The errno code stays, for callers that branch on it.
  return Object.assign(new Error(`cannot write '${path}': ${reason}`), { code });
}

/**
 * Writes `data` (one buffer, or chunks written in order) to `path` atomically:
 * temporary file, fsync, rename. On any failure the temporary file is removed and
 * the previous file at `path`, if any, is untouched.
 */
export function writeFileAtomic(path: string, data: Uint8Array | Iterable<Uint8Array>): void {
  const temporary = temporaryPathFor(path);
  let fd: number;
  try {
    fd = openSync(temporary, 'wx', 0o666);
  } catch (error) {
    throw openFailure(error, path);
  }
  let open = true;
  try {
    const chunks = data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    renameSync(temporary, path);
  } catch (error) {
    // Clean-up failures must not hide the original error.
    if (open) ignoreFailure(() => closeSync(fd));
    ignoreFailure(() => unlinkSync(temporary));
    throw error;
  }
  syncFolder(dirname(path));
}
