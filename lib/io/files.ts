/**
 * Files that are never half-written and never read without a bound.
 *
 * {@link writeFileAtomic} writes to a temporary file created exclusively (`O_CREAT | O_EXCL |
 * O_NOFOLLOW`: a file or symlink planted at its name makes it fail, never write through) under an
 * unpredictable name in the target's folder, flushes it, then renames it over the target: a crash
 * leaves the old file or the new one, never half of one, and any failure removes the temporary
 * file. Temporaries are named `.{name}.tmp-{pid}-{random}`, so one left by a process killed
 * during a save (its pid no longer alive) is recognised and removed by the next save of the same
 * target.
 *
 * {@link readFileBounded} refuses, before reading anything, a path that is not a regular file
 * (`/dev/zero`, a FIFO, a folder) or is larger than a {@link ByteLimit}, naming the file, its size,
 * the limit and how to raise it.
 */
import { randomBytes } from 'node:crypto';
import {
  type Stats,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type ByteLimit, byteLimit, formatBytes } from './limits.ts';

/** A file that cannot be read or written as asked; `path` is the file, `code` the system error code when there is one. */
export class FileError extends Error {
  override name = 'FileError';
  constructor(
    readonly path: string,
    reason: string,
    readonly code?: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for this process or file system',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  ENXIO: 'not a file (a socket or a device without a reader)',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
  EEXIST: 'already exists',
  ENOTEMPTY: 'is a folder that is not empty',
  EXDEV: 'on another device',
};

/** `ENOSPC: no space left on the device`, from a system error (or the message of any other error). */
export function describeError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && REASONS[code]) return `${code}: ${REASONS[code]}`;
  if (typeof code === 'string') return `${code}${(e as Error).message ? `: ${(e as Error).message.replace(/^[A-Z]+: /, '')}` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

/** What a non-regular file is, for messages. */
function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  if (s.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** An open regular file within a limit: its descriptor and its size when it was opened. Close it. */
export interface BoundedFile {
  readonly fd: number;
  readonly size: number;
}

/**
 * Open `path` for reading if it is a regular file of at most the limit's bytes (`maxBytes`, else
 * the limit's environment variable, else its default); otherwise throw a {@link FileError} that
 * names the file, its size, the limit and how to raise it. Nothing is read. A FIFO is opened
 * without waiting for a writer, and refused.
 */
export function openBounded(path: string, limit: ByteLimit, maxBytes?: number): BoundedFile {
  const max = byteLimit(limit, maxBytes);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new FileError(path, `cannot be read (${describeError(e)})`, (e as NodeJS.ErrnoException).code);
  }
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw new FileError(path, `is ${kindOf(s)}, not a regular file: ${limit.what} must be a file`);
    if (s.size > max) {
      const how = maxBytes === undefined ? `set ${limit.env}=BYTES to raise it` : 'raise maxBytes to read it';
      throw new FileError(path, `is ${formatBytes(s.size)}, larger than the limit of ${formatBytes(max)} for ${limit.what} (${how})`);
    }
    return { fd, size: s.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The bytes of a regular file within a limit (see {@link openBounded}); read to its size at opening, never past it. */
export function readFileBounded(path: string, limit: ByteLimit, maxBytes?: number): Buffer {
  const { fd, size } = openBounded(path, limit, maxBytes);
  try {
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, out, at, size - at, at);
      if (n === 0) break; // the file shrank while being read: what is there
      at += n;
    }
    return at === size ? out : out.subarray(0, at);
  } catch (e) {
    throw new FileError(path, `cannot be read (${describeError(e)})`, (e as NodeJS.ErrnoException).code);
  } finally {
    closeSync(fd);
  }
}

/** {@link readFileBounded} as UTF-8 text. */
export function readTextBounded(path: string, limit: ByteLimit, maxBytes?: number): string {
  return readFileBounded(path, limit, maxBytes).toString('utf8');
}

/** Temporary names are `.{name}.tmp-{pid}-{16 hex digits}`; a long name is shortened so the whole stays a valid file name. */
const TEMP_NAME = 200;
const tempPrefix = (base: string) => `.${base.slice(0, TEMP_NAME)}.tmp-`;
const tempName = (base: string) => `${tempPrefix(base)}${process.pid}-${randomBytes(8).toString('hex')}`;

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 2 ** 31 - 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Remove the temporary files that saves of `path` left behind when their process died (killed
 * during a save): only names of the form `.{name}.tmp-{pid}-{random}` whose pid is not alive, and
 * only files or symlinks (never a folder). Returns how many were removed; errors are ignored (the
 * next save tries again).
 */
export function removeStaleTemporaries(path: string): number {
  const dir = dirname(resolve(path)),
    prefix = tempPrefix(basename(path));
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{16}$/.exec(name.slice(prefix.length));
    if (!m || alive(Number(m[1]))) continue;
    try {
      const s = lstatSync(join(dir, name));
      if (!s.isFile() && !s.isSymbolicLink()) continue;
      unlinkSync(join(dir, name));
      removed++;
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/** Refuse to replace what is not a regular file (or a symlink): a folder, a device, a FIFO. */
function checkReplaceable(path: string): Stats | null {
  let s: Stats;
  try {
    s = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FileError(path, `cannot be written (${describeError(e)})`, (e as NodeJS.ErrnoException).code);
  }
  if (!s.isFile() && !s.isSymbolicLink()) throw new FileError(path, `is ${kindOf(s)}: it will not be replaced by a file`);
  return s;
}

/**
 * Write `data` to `path` atomically (see the module's comment). A file replaced keeps its
 * permission bits. Any failure throws a {@link FileError} naming `path`, and leaves `path` as it
 * was and no temporary file behind.
 *
 * @example
 * writeFileAtomic('out/final.json', JSON.stringify(result));
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const old = checkReplaceable(path);
  removeStaleTemporaries(path);
  const tmp = join(dirname(resolve(path)), tempName(basename(path)));
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd = -1,
    created = false;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
    created = true;
    if (old?.isFile()) fchmodSync(fd, old.mode & 0o7777);
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        // the write's error is the one to report
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing more can be done; the next save removes it once this process has ended
      }
    }
    throw new FileError(path, `cannot be written (${describeError(e)})`, (e as NodeJS.ErrnoException).code);
  }
  // make the rename itself durable; not every platform can flush a folder
  try {
    const dfd = openSync(dirname(resolve(path)), constants.O_RDONLY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // best effort
  }
}

/**
 * Check, before any work, that `path` can be written by {@link writeFileAtomic}: its folder
 * exists and takes a new file (tried with a temporary file, removed at once), and the path is not
 * a folder or a device. Throws a {@link FileError} naming what is wrong.
 */
export function checkWritable(path: string): void {
  const dir = dirname(resolve(path));
  let s: Stats;
  try {
    s = statSync(dir);
  } catch (e) {
    throw new FileError(path, `its folder ${dir} cannot be used (${describeError(e)})`, (e as NodeJS.ErrnoException).code);
  }
  if (!s.isDirectory()) throw new FileError(path, `${dir} is not a folder`);
  checkReplaceable(path);
  const tmp = join(dir, tempName(basename(path)));
  try {
    closeSync(openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  } catch (e) {
    throw new FileError(path, `cannot be written in ${dir} (${describeError(e)})`, (e as NodeJS.ErrnoException).code);
  }
  try {
    unlinkSync(tmp);
  } catch {
    // removed by the next save
  }
}

/**
 * Whether two paths name the same file: the same device and inode when both exist (so `./x`,
 * `x`, a hard link and a symlink to it are all the same), else the same real folder and name.
 */
export function sameFile(a: string, b: string): boolean {
  return identity(a) === identity(b);
}

function identity(p: string): string {
  try {
    const s = statSync(p);
    return `inode:${s.dev}:${s.ino}`;
  } catch {
    let dir = dirname(resolve(p));
    try {
      dir = realpathSync(dir);
    } catch {
      // a folder that does not exist: compare as written
    }
    return `path:${join(dir, basename(p))}`;
  }
}
