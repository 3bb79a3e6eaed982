// Receiving a file (F3): stream into a temp file in the same folder while hashing, fsync, check the
// announced sha256 and size, then rename into place and set the mtime. Any failure — a wrong checksum,
// a broken connection, a size over the limit — leaves the old file untouched and no temp file behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, utimes } from 'node:fs/promises';
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
  readonly reason: 'checksum' | 'size' | 'too_large';
  constructor(reason: 'checksum' | 'size' | 'too_large', message: string) {
    super(message);
    this.name = 'TransferRejectedError';
    this.reason = reason;
  }
}

export async function writeVerified(root: string, relative: string, source: Readable, announced: Announced, maxBytes = Number.MAX_SAFE_INTEGER): Promise<string> {
  const target = await confinePath(root, relative);
  if (announced.size > maxBytes) throw new TransferRejectedError('too_large', `${relative}: ${announced.size} bytes is over the limit of ${maxBytes}`);
  await mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `${TEMP_FILE_PREFIX}${randomBytes(6).toString('hex')}`);
  const file = await open(temp, 'wx');
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of source) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > announced.size || size > maxBytes) {
        throw new TransferRejectedError(size > maxBytes ? 'too_large' : 'size', `${relative}: more than the announced ${announced.size} bytes`);
      }
      hash.update(buffer);
      await file.write(buffer);
    }
    if (size !== announced.size) throw new TransferRejectedError('size', `${relative}: received ${size} of ${announced.size} bytes`);
    const sha256 = hash.digest('hex');
    if (sha256 !== announced.sha256) throw new TransferRejectedError('checksum', `${relative}: sha256 ${sha256} does not match the announced ${announced.sha256}`);
    await file.sync();
    await file.close();
    await rename(temp, target);
    const mtime = new Date(announced.mtimeMs);
    await utimes(target, mtime, mtime);
    return target;
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    if (typeof source.destroy === 'function') source.destroy();
    throw err;
  }
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
