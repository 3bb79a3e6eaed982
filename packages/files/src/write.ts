// Receiving a file (F3, F6): stream into a temp file in the same folder, read back what reached the disk
// and check its size and sha256 against what the sender announced, set the mtime, fsync, then rename
// into place. Any failure — a wrong checksum, a broken connection, a size over the limit, a full disk,
// a folder where the file should go, a name too long for the file system — leaves the old file
// untouched and no temp file behind.
import { randomBytes } from 'node:crypto';
import { futimesSync, writevSync } from 'node:fs';
import { lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { removeIfUnchanged, replaceIfUnchanged, type ComparedState } from './as-compared.ts';
import path from 'node:path';
import { Readable } from 'node:stream';
import { confinedFolders, confinePath, PathRefusedError, type ConfinedFolders } from './confine.ts';
import { TEMP_FILE_PREFIX } from './exclude.ts';
import { quickly, type QuickFs } from './quick-fs.ts';
import { digestHandleOfSize } from './hash.ts';
import { fits, freeBytes, isOutOfSpace } from './space.ts';

export interface Announced {
  sha256: string;
  size: number;
  mtimeMs: number;
}

/**
 * Why a transfer is refused; `conflict`: a folder is where the file goes, or a file where a folder of its
 * path goes; `no_space`: the file does not fit on this node's disk (refused up front, or the disk filled).
 */
export type RejectionReason = 'checksum' | 'size' | 'too_large' | 'format' | 'conflict' | 'no_space';

export class TransferRejectedError extends Error {
  readonly reason: RejectionReason;
  constructor(reason: RejectionReason, message: string) {
    super(message);
    this.name = 'TransferRejectedError';
    this.reason = reason;
  }
}

/** How far ahead of this node's clock an announced mtime may lie (clocks differ a little; year 275760 is no mtime). */
const MAX_MTIME_AHEAD_MS = 24 * 60 * 60 * 1000;
export const MTIME_RULE = 'a non-negative integer (ms since 1970) no later than a day from now';

/** An mtime a peer may announce: from 1970 on, at most MAX_MTIME_AHEAD_MS ahead of this node's clock. */
export function isPlausibleMtime(mtimeMs: number, now = Date.now()): boolean {
  return Number.isFinite(mtimeMs) && mtimeMs >= 0 && mtimeMs <= now + MAX_MTIME_AHEAD_MS;
}

/** The file system's refusal of a name, a place or space, as the refusal a sender gets (400, 409, 507); other errors as they are. */
export function placementError(err: unknown, relative: string): unknown {
  if (isOutOfSpace(err))
    return new TransferRejectedError('no_space', `${relative}: the disk is full here (${(err as NodeJS.ErrnoException).code}); nothing was put in place`);
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENAMETOOLONG':
      return new PathRefusedError(relative, 'has a name too long for the file system');
    case 'EISDIR':
    case 'ENOTEMPTY':
      return new TransferRejectedError('conflict', `${relative}: is a folder here`);
    case 'ENOTDIR':
    case 'EEXIST':
      return new TransferRejectedError('conflict', `${relative}: a part of its path is a file here, not a folder`);
    default:
      return err;
  }
}

/**
 * What the files of one transfer into one root (a bundle) share: each folder is confined (confine.ts) and
 * made once, not once per file.
 */
export class ReceivingFolders {
  /** The bundle's calls (quick-fs.ts): a look at a name then costs no hand-off to libuv's threads. */
  readonly quick: QuickFs;
  readonly confined: ConfinedFolders;
  readonly #made = new Map<string, Promise<unknown>>();

  constructor(quick: QuickFs) {
    this.quick = quick;
    this.confined = confinedFolders(quick);
  }

  /** Makes `folder` (an absolute path) and its parents, once. */
  async make(folder: string): Promise<void> {
    let made = this.#made.get(folder);
    if (!made) {
      made = mkdir(folder, { recursive: true });
      this.#made.set(folder, made);
    }
    await made;
  }
}

const makeFolder = (folder: string, folders?: ReceivingFolders) => (folders ? folders.make(folder) : mkdir(folder, { recursive: true }));

/** Makes the target's folder; refuses a target that is a folder. */
export async function prepareTarget(target: string, relative: string, folders?: ReceivingFolders): Promise<void> {
  try {
    await makeFolder(path.dirname(target), folders);
  } catch (err) {
    throw placementError(err, relative);
  }
  const there = await (folders ? folders.quick.lstat(target) : lstat(target)).catch(() => null);
  if (there?.isDirectory()) throw new TransferRejectedError('conflict', `${relative}: is a folder here`);
}

const WRITE_BYTES = 1024 * 1024;
/** Files from this size on are checked against the disk's free space before a byte is written. */
export const ROOM_CHECK_BYTES = 1024 * 1024;

/** What is left of `chunks` once their first `written` bytes are written (the rest of a short write). */
export function unwritten(chunks: Buffer[], written: number): Buffer[] {
  let skip = written;
  let first = 0;
  while (first < chunks.length && skip >= chunks[first]!.length) skip -= chunks[first++]!.length;
  if (first === chunks.length) return [];
  return [chunks[first]!.subarray(skip), ...chunks.slice(first + 1)];
}

/**
 * Writes all of `chunks` at the file's position. A short write (a disk close to full writes part of the
 * data without an error) goes on with the rest, which then meets the disk's ENOSPC.
 */
export async function writeAll(file: FileHandle, chunks: Buffer[]): Promise<void> {
  for (let rest = chunks; rest.length; ) {
    const { bytesWritten } = await file.writev(rest);
    if (bytesWritten === 0) throw Object.assign(new Error('nothing written'), { code: 'ENOSPC' });
    rest = unwritten(rest, bytesWritten);
  }
}

/** writeAll with synchronous calls (see quick-fs.ts). */
function writeAllNow(fd: number, chunks: Buffer[]): void {
  for (let rest = chunks; rest.length; ) {
    const bytesWritten = writevSync(fd, rest);
    if (bytesWritten === 0) throw Object.assign(new Error('nothing written'), { code: 'ENOSPC' });
    rest = unwritten(rest, bytesWritten);
  }
}

/** Refuses a file of `size` bytes that cannot fit on the disk holding `folder` (with room to spare). */
export async function ensureRoom(folder: string, relative: string, size: number): Promise<void> {
  const free = await freeBytes(folder);
  if (!fits(size, free)) throw new TransferRejectedError('no_space', `${relative}: ${size} bytes do not fit on this node's disk (${free} bytes free)`);
}

/** A stream's chunks, leaving the stream open when reading stops early: its owner drains it (so the refusal reaches the sender) or destroys it. */
function chunksOf(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncIterable<Buffer> | Iterable<Buffer> {
  return source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : source;
}

/** Checks what lies in the temp file — its length and sha256, read back — against what the sender announced. */
export async function verifyOnDisk(file: FileHandle, relative: string, announced: Announced, quick?: QuickFs): Promise<void> {
  const onDisk = await digestHandleOfSize(file, announced.size, quick);
  if (onDisk.size !== announced.size) throw new TransferRejectedError('size', `${relative}: ${onDisk.size} of ${announced.size} bytes reached the disk`);
  if (onDisk.sha256 !== announced.sha256)
    throw new TransferRejectedError('checksum', `${relative}: sha256 ${onDisk.sha256} does not match the announced ${announced.sha256}`);
}

/** A verified file waiting in its temp file beside the target. */
export interface Received {
  temp: string;
  target: string;
  /** The target as the sender named it (for errors). */
  relative: string;
  /** Still open and not yet fsynced (deferSync): syncReceived must run before commitReceived. */
  unsynced?: FileHandle;
}

/** Fsyncs and closes files received with deferSync, all at once. */
export async function syncReceived(received: Received[]): Promise<void> {
  await Promise.all(
    received.map(async (r) => {
      if (!r.unsynced) return;
      try {
        await r.unsynced.sync();
      } catch (err) {
        throw placementError(err, r.relative);
      }
      await r.unsynced.close();
      delete r.unsynced;
    }),
  );
}

/**
 * The checks every arriving version passes before a byte is written — the path confined, the mtime
 * plausible, the target's folder ready, room on the disk for a large file — and the temp file beside the
 * target that it is then written to (created exclusively).
 */
export async function openTempBeside(
  root: string,
  relative: string,
  announced: Announced,
  folders?: ReceivingFolders,
): Promise<{ target: string; temp: string; file: FileHandle }> {
  const target = await confinePath(root, relative, folders?.confined);
  if (!isPlausibleMtime(announced.mtimeMs)) throw new TransferRejectedError('format', `${relative}: mtime_ms ${announced.mtimeMs} is not ${MTIME_RULE}`);
  await prepareTarget(target, relative, folders);
  if (announced.size >= ROOM_CHECK_BYTES) await ensureRoom(path.dirname(target), relative, announced.size);
  const temp = path.join(path.dirname(target), `${TEMP_FILE_PREFIX}${randomBytes(6).toString('hex')}`);
  const file = await open(temp, 'wx+').catch((err: unknown) => {
    throw placementError(err, relative);
  });
  return { target, temp, file };
}

/**
 * Streams `source` into a temp file beside the target, counting, then checks what reached the disk
 * against what the sender announced, gives it the sender's mtime and fsyncs it (or leaves that to
 * syncReceived, with deferSync). Nothing is in place yet: commitReceived does that. `folders`: the
 * checks shared with the other files of the same transfer (a bundle). A file from
 * ROOM_CHECK_BYTES on that cannot fit is refused before the temp file exists. On failure the temp file
 * is removed; a stream source is left open (its owner drains or destroys it).
 */
export async function receiveToTemp(
  root: string,
  relative: string,
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  announced: Announced,
  maxBytes = Number.MAX_SAFE_INTEGER,
  options: { deferSync?: boolean; folders?: ReceivingFolders } = {},
): Promise<Received> {
  await makeFolder(root, options.folders);
  if (announced.size > maxBytes) throw new TransferRejectedError('too_large', `${relative}: ${announced.size} bytes is over the limit of ${maxBytes}`);
  const { target, temp, file } = await openTempBeside(root, relative, announced, options.folders);
  const quick = options.folders?.quick;
  let size = 0;
  // Network chunks are small (16–64 KB) and each write waits for the disk: they are gathered and written
  // WRITE_BYTES at a time.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (!pending.length) return;
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    await quickly(
      quick,
      () => writeAllNow(file.fd, chunks),
      () => writeAll(file, chunks),
    );
  };
  try {
    for await (const buffer of chunksOf(source)) {
      size += buffer.length;
      if (size > announced.size || size > maxBytes) {
        throw new TransferRejectedError(size > maxBytes ? 'too_large' : 'size', `${relative}: more than the announced ${announced.size} bytes`);
      }
      pending.push(buffer);
      pendingBytes += buffer.length;
      if (pendingBytes >= WRITE_BYTES) await flush();
    }
    await flush();
    if (size !== announced.size) throw new TransferRejectedError('size', `${relative}: received ${size} of ${announced.size} bytes`);
    await verifyOnDisk(file, relative, announced, quick);
    const mtime = new Date(announced.mtimeMs);
    // Kept by the rename.
    await quickly(
      quick,
      () => futimesSync(file.fd, mtime, mtime),
      () => file.utimes(mtime, mtime),
    );
    if (options.deferSync) return { temp, target, relative, unsynced: file };
    await file.sync();
    await file.close();
    return { temp, target, relative };
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw placementError(err, relative);
  }
}

/**
 * Puts a received (and synced) file in place: a rename over the old one (the temp file has the sender's
 * mtime) — with `replaces`, only while the target still holds what a file sync compared (`quick`: a
 * bundle's, see quick-fs.ts). If the rename
 * fails (a folder appeared there meanwhile), or the target changed, the temp file is removed.
 */
export async function commitReceived(received: Received, replaces?: ComparedState, quick?: QuickFs): Promise<string> {
  if (received.unsynced) throw new Error(`${received.target}: not synced yet`);
  try {
    if (replaces === undefined) await rename(received.temp, received.target);
    else await replaceIfUnchanged(received.temp, received.target, received.relative, replaces, quick);
  } catch (err) {
    await rm(received.temp, { force: true });
    throw placementError(err, received.relative);
  }
  return received.target;
}

/** Drops received files that will not be put in place. */
export async function discardReceived(received: Received[]): Promise<void> {
  await Promise.all(
    received.map(async (r) => {
      await r.unsynced?.close().catch(() => {});
      await rm(r.temp, { force: true });
    }),
  );
}

export async function writeVerified(
  root: string,
  relative: string,
  source: Readable,
  announced: Announced,
  options: { maxBytes?: number; replaces?: ComparedState } = {},
): Promise<string> {
  return commitReceived(await receiveToTemp(root, relative, source, announced, options.maxBytes), options.replaces);
}

/**
 * Removes a file (a propagated delete) — with `compared`, only while it still holds what a file sync
 * compared. Missing already is fine.
 */
export async function removeFile(root: string, relative: string, compared?: ComparedState): Promise<boolean> {
  const target = await confinePath(root, relative);
  if (compared !== undefined) return removeIfUnchanged(target, relative, compared);
  try {
    await rm(target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
