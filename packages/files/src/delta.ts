// Block deltas on disk (F3, F6): a file's block list read from disk, and the new version of a file built
// in a temp file beside it from blocks of the version already here plus blocks from the peer — each block
// checked against its sha256 as it is written, the whole temp file read back and checked against the
// announced size and sha256, fsynced, and renamed into place as a whole transfer is. Any mismatch leaves
// the old file untouched and no temp file. The decisions (which blocks come from where) are blocks.ts's.
import { mkdir, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Pool } from '@catchup/db';
import type { ComparedState } from './as-compared.ts';
import { BLOCK_BYTES, blockCount, blockLength, COPY_RECORD_BYTES, DELTA_COPY, DELTA_LITERAL, type BlockList, type BlockSource } from './blocks.ts';
import { confinePath } from './confine.ts';
import { readAt } from './read-at.ts';
import { sha256Of } from './hash.ts';
import type { FileDirectory } from './roots.ts';
import { currentSha256 } from './serve.ts';
import { commitReceived, openTempBeside, placementError, TransferRejectedError, verifyOnDisk, writeAll, type Announced } from './write.ts';

/** Reads exact lengths from a stream of chunks, holding no more than one chunk beyond what was asked. */
export class ByteReader {
  readonly #chunks: AsyncIterator<Buffer> | Iterator<Buffer>;
  #held: Buffer = Buffer.alloc(0);
  #ended = false;
  /** Bytes taken from the stream so far. */
  taken = 0;

  constructor(source: AsyncIterable<Buffer> | Iterable<Buffer>) {
    // A stream is left open when reading stops early: its owner drains it (so a refusal reaches the sender).
    const iterable = source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : source;
    this.#chunks = Symbol.asyncIterator in iterable ? iterable[Symbol.asyncIterator]() : (iterable as Iterable<Buffer>)[Symbol.iterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#held = this.#held.length ? Buffer.concat([this.#held, next.value]) : next.value;
    return true;
  }

  /** Whether the stream holds no more bytes. */
  async atEnd(): Promise<boolean> {
    while (this.#held.length === 0) if (!(await this.#fill())) return true;
    return false;
  }

  /** The next `length` bytes, or null when the stream ends before them. */
  async read(length: number): Promise<Buffer | null> {
    while (this.#held.length < length) if (!(await this.#fill())) return null;
    const out = this.#held.subarray(0, length);
    this.#held = this.#held.subarray(length);
    this.taken += length;
    return out;
  }
}

/**
 * Builds a file in a temp file beside `relative`'s target with `write`, then checks it as a whole
 * transfer is checked (size and sha256 of what reached the disk), sets the mtime, fsyncs and puts it in
 * place (with `replaces`, only while the target still holds what was compared). On any failure the temp
 * file is removed and the target was never touched.
 */
async function buildInPlace(
  root: string,
  relative: string,
  announced: Announced,
  replaces: ComparedState | undefined,
  write: (temp: FileHandle) => Promise<void>,
): Promise<string> {
  const { target, temp, file } = await openTempBeside(root, relative, announced);
  try {
    await write(file);
    await verifyOnDisk(file, relative, announced);
    const mtime = new Date(announced.mtimeMs);
    await file.utimes(mtime, mtime);
    await file.sync();
    await file.close();
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw placementError(err, relative);
  }
  return commitReceived({ temp, target, relative }, replaces);
}

export interface DeltaDownload {
  /** The peer's block list of the new version, and its mtime. */
  target: BlockList & { mtimeMs: number };
  /** Where each block comes from (planBlocks against this node's block list of `base`). */
  sources: BlockSource[];
  /** The blocks marked `sender`, in ascending order, concatenated. */
  fetched: AsyncIterable<Buffer> | Iterable<Buffer>;
  /** The local file whose blocks are reused (the target path itself, or another version of it). */
  base: string;
  /** What the target path held when compared; it is replaced only while it still does. */
  replaces?: ComparedState | undefined;
}

/**
 * Puts the peer's new version of `relative` in place, built from blocks of the local `base` and the
 * fetched blocks. Every block is checked against the peer's list as it is written (a block of the base
 * that changed meanwhile, or a corrupt fetched one, is a `checksum` refusal), then the whole file.
 */
export async function assembleDownload(root: string, relative: string, delta: DeltaDownload): Promise<string> {
  const { target, sources, base } = delta;
  if (target.blocks.length !== blockCount(target.size, target.blockSize) || sources.length !== target.blocks.length)
    throw new TransferRejectedError('format', `${relative}: the peer's block list does not fit its size`);
  const baseHandle = await open(await confinePath(root, base), 'r');
  try {
    const fetched = new ByteReader(delta.fetched);
    const buffer = Buffer.allocUnsafe(target.blockSize);
    return await buildInPlace(root, relative, target, delta.replaces, async (temp) => {
      for (const [index, source] of sources.entries()) {
        const length = blockLength(index, target.size, target.blockSize);
        let block: Buffer | null;
        if (source.from === 'base') {
          block = await readAt(baseHandle, buffer, source.index * target.blockSize, length);
          if (block.length !== length || sha256Of(block) !== target.blocks[index])
            throw new TransferRejectedError('checksum', `${relative}: block ${source.index} of the file here changed while it was read`);
        } else {
          block = await fetched.read(length);
          if (!block) throw new TransferRejectedError('size', `${relative}: the peer sent fewer blocks than asked`);
          if (sha256Of(block) !== target.blocks[index])
            throw new TransferRejectedError('checksum', `${relative}: block ${index} from the peer does not match its sha256`);
        }
        await writeAll(temp, [block]);
      }
      if (!(await fetched.atEnd())) throw new TransferRejectedError('size', `${relative}: the peer sent more blocks than asked`);
    });
  } finally {
    await baseHandle.close();
  }
}

export interface DeltaAnnounced extends Announced {
  /** sha256 of the receiver's current file, which the delta was computed against. */
  baseSha256: string;
  blockSize: number;
}

/**
 * Receives an upload's delta body (see blocks.ts for its layout) for `relative`: the new version is
 * built from blocks of the file here and the literal bytes in the body, then checked as a whole upload
 * is. Refused before anything is written (409) when the file here is not the version the delta was
 * computed against; a malformed body (an instruction outside the base, a literal longer than a block,
 * more or fewer bytes than announced) is refused (400) and leaves nothing behind.
 */
export async function receiveDelta(
  pool: Pool,
  root: string,
  directory: FileDirectory,
  relative: string,
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  announced: DeltaAnnounced,
  options: { maxBytes?: number; replaces?: ComparedState; base?: string } = {},
): Promise<string> {
  await mkdir(root, { recursive: true });
  await confinePath(root, relative);
  // The file whose blocks are copied: the target itself, or another file here (a conflict copy is built
  // from the version at the original path).
  const baseRelative = options.base ?? relative;
  const file = await confinePath(root, baseRelative);
  if (announced.size > (options.maxBytes ?? Number.MAX_SAFE_INTEGER))
    throw new TransferRejectedError('too_large', `${relative}: ${announced.size} bytes is over the limit of ${options.maxBytes}`);
  if (announced.blockSize !== BLOCK_BYTES)
    throw new TransferRejectedError('format', `${relative}: block_size ${announced.blockSize} is not this node's ${BLOCK_BYTES}`);
  const info = await stat(file).catch(() => null);
  const current = info?.isFile() ? await currentSha256(pool, directory, baseRelative, file, info) : null;
  if (!info || current !== announced.baseSha256)
    throw new TransferRejectedError(
      'conflict',
      `${relative}: the file here${options.base ? ` at ${options.base}` : ''} (${current ? `sha256 ${current}` : 'none'}) is not the version the delta was computed against (sha256 ${announced.baseSha256}); nothing was written`,
    );
  const baseSize = info.size;
  const baseBlocks = blockCount(baseSize, BLOCK_BYTES);
  const baseHandle = await open(file, 'r');
  try {
    const reader = new ByteReader(body);
    const buffer = Buffer.allocUnsafe(BLOCK_BYTES);
    const malformed = (why: string) => new TransferRejectedError('format', `${relative}: the delta body ${why}`);
    return await buildInPlace(root, relative, announced, options.replaces, async (temp) => {
      let written = 0;
      const put = async (bytes: Buffer) => {
        written += bytes.length;
        if (written > announced.size) throw new TransferRejectedError('size', `${relative}: the delta writes more than the announced ${announced.size} bytes`);
        await writeAll(temp, [bytes]);
      };
      while (!(await reader.atEnd())) {
        const tag = (await reader.read(1))![0];
        if (tag === DELTA_COPY) {
          const record = await reader.read(COPY_RECORD_BYTES - 1);
          if (!record) throw malformed('ends inside a copy instruction');
          const first = record.readUInt32BE(0);
          const count = record.readUInt32BE(4);
          if (count === 0 || first + count > baseBlocks) throw malformed(`copies blocks ${first}+${count}, outside the ${baseBlocks} blocks of the file here`);
          for (let index = first; index < first + count; index++)
            await put(await readAt(baseHandle, buffer, index * BLOCK_BYTES, blockLength(index, baseSize, BLOCK_BYTES)));
        } else if (tag === DELTA_LITERAL) {
          const header = await reader.read(4);
          if (!header) throw malformed('ends inside a literal header');
          const length = header.readUInt32BE(0);
          if (length === 0 || length > BLOCK_BYTES) throw malformed(`has a literal of ${length} bytes (1 to ${BLOCK_BYTES})`);
          const bytes = await reader.read(length);
          if (!bytes) throw new TransferRejectedError('size', `${relative}: the delta body ends inside a literal`);
          await put(bytes);
        } else {
          throw malformed(`has an unknown instruction ${tag}`);
        }
      }
      if (written !== announced.size) throw new TransferRejectedError('size', `${relative}: the delta wrote ${written} of ${announced.size} bytes`);
    });
  } finally {
    await baseHandle.close();
  }
}
