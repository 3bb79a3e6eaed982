// Receiving a file (F3): stream into a temp file in the same folder while hashing, check the announced
// sha256 and size, set the mtime, fsync, then rename into place. Any failure — a wrong checksum,
// a broken connection, a size over the limit, a folder where the file should go, a name too long for
// the file system — leaves the old file untouched and no temp file behind.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { confinePath, PathRefusedError } from './confine.ts';
import { TEMP_FILE_PREFIX } from './exclude.ts';

export interface Announced {
  sha256: string;
  size: number;
  mtimeMs: number;
}

/** Why a transfer is refused; `conflict`: a folder is where the file goes, or a file where a folder of its path goes. */
export type RejectionReason = 'checksum' | 'size' | 'too_large' | 'format' | 'conflict';

export class TransferRejectedError extends Error {
  readonly reason: RejectionReason;
  constructor(reason: RejectionReason, message: string) {
    super(message);
    this.name = 'TransferRejectedError';
    this.reason = reason;
  }
}

/** How far ahead of this node's clock an announced mtime may lie (clocks differ a little; year 275760 is no mtime). */
export const MAX_MTIME_AHEAD_MS = 24 * 60 * 60 * 1000;
export const MTIME_RULE = 'a non-negative integer (ms since 1970) no later than a day from now';

/** An mtime a peer may announce: from 1970 on, at most MAX_MTIME_AHEAD_MS ahead of this node's clock. */
export function isPlausibleMtime(mtimeMs: number, now = Date.now()): boolean {
  return Number.isFinite(mtimeMs) && mtimeMs >= 0 && mtimeMs <= now + MAX_MTIME_AHEAD_MS;
}

/** The file system's refusal of a name or a place, as the refusal a sender gets (400 or 409); other errors as they are. */
function placementError(err: unknown, relative: string): unknown {
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

/** Makes the target's folder; refuses a target that is a folder. */
async function prepareTarget(target: string, relative: string): Promise<void> {
  try {
    await mkdir(path.dirname(target), { recursive: true });
  } catch (err) {
    throw placementError(err, relative);
  }
  if ((await lstat(target).catch(() => null))?.isDirectory()) throw new TransferRejectedError('conflict', `${relative}: is a folder here`);
}

const WRITE_BYTES = 1024 * 1024;

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
      await r.unsynced.sync();
      await r.unsynced.close();
      delete r.unsynced;
    }),
  );
}

/**
 * Streams `source` into a temp file beside the target while hashing and counting, checks it against
 * what the sender announced, gives it the sender's mtime and fsyncs it (or leaves that to syncReceived,
 * with deferSync). Nothing is in place yet: commitReceived does that. On failure the temp file is removed.
 */
export async function receiveToTemp(
  root: string,
  relative: string,
  source: (AsyncIterable<Buffer> | Iterable<Buffer>) & { destroy?: () => void },
  announced: Announced,
  maxBytes = Number.MAX_SAFE_INTEGER,
  options: { deferSync?: boolean } = {},
): Promise<Received> {
  const target = await confinePath(root, relative);
  if (announced.size > maxBytes) throw new TransferRejectedError('too_large', `${relative}: ${announced.size} bytes is over the limit of ${maxBytes}`);
  if (!isPlausibleMtime(announced.mtimeMs)) throw new TransferRejectedError('format', `${relative}: mtime_ms ${announced.mtimeMs} is not ${MTIME_RULE}`);
  await prepareTarget(target, relative);
  const temp = path.join(path.dirname(target), `${TEMP_FILE_PREFIX}${randomBytes(6).toString('hex')}`);
  const file = await open(temp, 'wx').catch((err: unknown) => {
    throw placementError(err, relative);
  });
  const hash = createHash('sha256');
  let size = 0;
  // Network chunks are small (16–64 KB): written one by one, each waiting for the disk, a file of a few
  // MB took hundreds of milliseconds. They are gathered and written together instead.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (!pending.length) return;
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    await file.writev(chunks);
  };
  try {
    for await (const buffer of source) {
      size += buffer.length;
      if (size > announced.size || size > maxBytes) {
        throw new TransferRejectedError(size > maxBytes ? 'too_large' : 'size', `${relative}: more than the announced ${announced.size} bytes`);
      }
      hash.update(buffer);
      pending.push(buffer);
      pendingBytes += buffer.length;
      if (pendingBytes >= WRITE_BYTES) await flush();
    }
    await flush();
    if (size !== announced.size) throw new TransferRejectedError('size', `${relative}: received ${size} of ${announced.size} bytes`);
    const sha256 = hash.digest('hex');
    if (sha256 !== announced.sha256) throw new TransferRejectedError('checksum', `${relative}: sha256 ${sha256} does not match the announced ${announced.sha256}`);
    const mtime = new Date(announced.mtimeMs);
    await file.utimes(mtime, mtime); // kept by the rename
    if (options.deferSync) return { temp, target, relative, unsynced: file };
    await file.sync();
    await file.close();
    return { temp, target, relative };
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    if (typeof source.destroy === 'function') source.destroy();
    throw err;
  }
}

/**
 * Puts a received (and synced) file in place: a rename over the old one (the temp file has the sender's
 * mtime). If the rename fails (a folder appeared there meanwhile), the temp file is removed.
 */
export async function commitReceived(received: Received): Promise<string> {
  if (received.unsynced) throw new Error(`${received.target}: not synced yet`);
  try {
    await rename(received.temp, received.target);
  } catch (err) {
    await rm(received.temp, { force: true });
    throw placementError(err, received.relative);
  }
  return received.target;
}

/** Drops received files that will not be put in place. */
export async function discardReceived(received: Received[]): Promise<void> {
  await Promise.all(received.map(async (r) => {
    await r.unsynced?.close().catch(() => {});
    await rm(r.temp, { force: true });
  }));
}

export async function writeVerified(root: string, relative: string, source: Readable, announced: Announced, maxBytes = Number.MAX_SAFE_INTEGER): Promise<string> {
  return commitReceived(await receiveToTemp(root, relative, source, announced, maxBytes));
}

/** Removes a file (a propagated delete). Missing already is fine. */
export async function removeFile(root: string, relative: string): Promise<boolean> {
  const target = await confinePath(root, relative);
  try {
    await rm(target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
