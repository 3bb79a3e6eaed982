// Serving a file to a peer: its current checksum (from the manifest when size and mtime still match), the
// whole file, its block list, or chosen blocks of it (block deltas, see blocks.ts).
import type { Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Pool } from '@catchup/db';
import { blockCount, blockLength, type BlockList } from './blocks.ts';
import { confinePath } from './confine.ts';
import { readBlockList } from './block-list.ts';
import { sha256File, unchangedWhileRead } from './hash.ts';
import { recordFile } from './record.ts';
import type { FileDirectory } from './roots.ts';
import { TransferRejectedError } from './write.ts';

export interface ServedFile {
  stream: Readable;
  sha256: string;
  size: number;
  mtimeMs: number;
}

/**
 * The sha256 of the file at `file` as `info` describes it: the manifest's while its size and mtime still
 * match, else hashed now (and recorded) — refused if it changed while it was read.
 */
export async function currentSha256(pool: Pool, directory: FileDirectory, relative: string, file: string, info: Stats): Promise<string> {
  const mtimeMs = Math.floor(info.mtimeMs);
  const { rows } = await pool.query<{ sha256: string }>(
    `SELECT sha256 FROM file_checksums WHERE directory = $1 AND path = $2 AND NOT deleted AND size = $3
        AND (extract(epoch FROM mtime) * 1000)::bigint = $4`,
    [directory, relative, info.size, mtimeMs],
  );
  if (rows[0]) return rows[0].sha256;
  const sha256 = await sha256File(file);
  if (!unchangedWhileRead(info, await stat(file).catch(() => null)))
    throw new TransferRejectedError('conflict', `${relative}: changed while it was read here; it goes at a later sync`);
  await recordFile(pool, directory, relative, { sha256, size: info.size, mtimeMs });
  return sha256;
}

/** Whole files go to a peer in reads of this size: reads of the default 64 KB cost about twice the CPU per byte. */
const SENDING_READ_BYTES = 256 * 1024;

/** A file's bytes as they go to a peer. */
export const sendingStream = (file: string): Readable => createReadStream(file, { highWaterMark: SENDING_READ_BYTES });

export async function openForSending(pool: Pool, root: string, directory: FileDirectory, relative: string): Promise<ServedFile | null> {
  const file = await confinePath(root, relative);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return null;
  const sha256 = await currentSha256(pool, directory, relative, file, info);
  return { stream: sendingStream(file), sha256, size: info.size, mtimeMs: Math.floor(info.mtimeMs) };
}

/** A file's block list for a peer (read whole, so its sha256 is recorded too: a version this node read). */
export async function blockListForSending(
  pool: Pool,
  root: string,
  directory: FileDirectory,
  relative: string,
): Promise<(BlockList & { mtimeMs: number }) | null> {
  const file = await confinePath(root, relative);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return null;
  const list = await readBlockList(file);
  await recordFile(pool, directory, relative, list);
  return list;
}

export interface ServedBlocks {
  stream: Readable;
  /** The bytes the chosen blocks hold. */
  length: number;
}

/**
 * Chosen blocks of a file, concatenated, read as they are sent — while the file is still the version
 * `sha256` (what the peer's block list described); another version is refused (409), the peer's
 * blocks would not fit it. Null when the file is not there.
 */
export async function openBlocksForSending(
  pool: Pool,
  root: string,
  directory: FileDirectory,
  relative: string,
  sha256: string,
  blockSize: number,
  parse: (count: number) => Array<[number, number]> | null,
): Promise<ServedBlocks | null> {
  const file = await confinePath(root, relative);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return null;
  const current = await currentSha256(pool, directory, relative, file, info);
  if (current !== sha256)
    throw new TransferRejectedError('conflict', `${relative}: the file here is now sha256 ${current}, not ${sha256}; ask for its block list again`);
  const ranges = parse(blockCount(info.size, blockSize));
  if (!ranges) throw new TransferRejectedError('format', `${relative}: blocks must be ascending ranges within its ${blockCount(info.size, blockSize)} blocks`);
  let length = 0;
  for (const [first, last] of ranges) for (let i = first; i <= last; i++) length += blockLength(i, info.size, blockSize);
  // Opened when the first block is read, so that an answer dropped before then leaves no open file.
  async function* blocks(): AsyncGenerator<Buffer> {
    const handle = await open(file, 'r');
    try {
      for (const [first, last] of ranges!) {
        // A run of blocks is read in pieces of up to 1 MB: bounded memory whatever the run's length.
        const end = Math.min(info!.size, (last + 1) * blockSize);
        for (let position = first * blockSize; position < end; ) {
          const buffer = Buffer.allocUnsafe(Math.min(1 << 20, end - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw new Error(`${relative}: shorter than when its blocks were chosen`);
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      }
    } finally {
      await handle.close();
    }
  }
  return { stream: Readable.from(blocks(), { objectMode: false }), length };
}
