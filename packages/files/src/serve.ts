// Serving a file to a peer: its current checksum (from the manifest when size and mtime still match).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Pool } from '@catchup/db';
import { confinePath } from './confine.ts';
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

export async function openForSending(pool: Pool, root: string, directory: FileDirectory, relative: string): Promise<ServedFile | null> {
  const file = await confinePath(root, relative);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return null;
  const mtimeMs = Math.floor(info.mtimeMs);
  const { rows } = await pool.query<{ sha256: string }>(
    `SELECT sha256 FROM file_checksums WHERE directory = $1 AND path = $2 AND NOT deleted AND size = $3
        AND (extract(epoch FROM mtime) * 1000)::bigint = $4`,
    [directory, relative, info.size, mtimeMs],
  );
  let sha256 = rows[0]?.sha256;
  if (!sha256) {
    sha256 = await sha256File(file);
    if (!unchangedWhileRead(info, await stat(file).catch(() => null)))
      throw new TransferRejectedError('conflict', `${relative}: changed while it was read here; it goes at a later sync`);
    await recordFile(pool, directory, relative, { sha256, size: info.size, mtimeMs });
  }
  return { stream: createReadStream(file, { highWaterMark: 1 << 20 }), sha256, size: info.size, mtimeMs };
}
