// Receiving a file (F3): stream into a temp file in the same folder while hashing, check the announced
// sha256 and size, set the mtime, fsync, then rename into place. Any failure — a wrong checksum,
// a broken connection, a size over the limit — leaves the old file untouched and no temp file behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { confinePath } from './confine.ts';
import { TEMP_FILE_PREFIX } from './exclude.ts';

export interface Announced {
  sha256: string;
  size: number;
  mtimeMs: number;
}

export class TransferRejectedError extends Error {
  readonly reason: 'checksum' | 'size' | 'too_large' | 'format';
  constructor(reason: 'checksum' | 'size' | 'too_large' | 'format', message: string) {
    super(message);
    this.name = 'TransferRejectedError';
    this.reason = reason;
  }
}

const WRITE_BYTES = 1024 * 1024;

/** A verified file waiting in its temp file beside the target. */
export interface Received {
  temp: string;
  target: string;
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
  await mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `${TEMP_FILE_PREFIX}${randomBytes(6).toString('hex')}`);
  const file = await open(temp, 'wx');
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
    if (options.deferSync) return { temp, target, unsynced: file };
    await file.sync();
    await file.close();
    return { temp, target };
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    if (typeof source.destroy === 'function') source.destroy();
    throw err;
  }
}

/** Puts a received (and synced) file in place: a rename over the old one (the temp file has the sender's mtime). */
export async function commitReceived(received: Received): Promise<string> {
  if (received.unsynced) throw new Error(`${received.target}: not synced yet`);
  await rename(received.temp, received.target);
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
