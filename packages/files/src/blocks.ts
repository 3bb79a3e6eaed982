// Block deltas for large files, as Syncthing does them: a file is cut into fixed-size blocks, each
// hashed with sha256. When a large file changed in part, the side that has an older version keeps the
// blocks it already holds (found by hash, at any offset) and only the other blocks travel. Everything
// here is pure: which blocks move, how a list of them is written in a query, and how an upload's delta
// body is laid out. The I/O (hashing a file's blocks, assembling the new file) is in delta.ts.

/** The size of a block (the last block of a file may be shorter). One constant: both sides must cut alike. */
export const BLOCK_BYTES = 128 * 1024;
/** Files from this size on move as block deltas when the other side holds a version of them. */
export const DELTA_MIN_BYTES = 4 * 1024 * 1024;

/** A file's blocks as a peer describes them (GET /files/blocks), and as a node computes them for its own file. */
export interface BlockList {
  blockSize: number;
  size: number;
  /** sha256 of the whole file. */
  sha256: string;
  /** sha256 (hex) of each block, in order. */
  blocks: string[];
}

export const blockCount = (size: number, blockSize: number): number => Math.ceil(size / blockSize);

/** The length of block `index` of a file of `size` bytes. */
export const blockLength = (index: number, size: number, blockSize: number): number => Math.min(blockSize, size - index * blockSize);

/**
 * Whether a file goes as a block delta: it is large, and the other side holds a version with at least
 * a block to reuse. A small file costs less sent whole than the extra round trip for its block list.
 */
export function deltaWorthwhile(baseSize: number, targetSize: number): boolean {
  return targetSize >= DELTA_MIN_BYTES && baseSize >= BLOCK_BYTES;
}

/** Where a block of the new file comes from: a block of the old version (`base`), or the side that has the new one. */
export type BlockSource = { from: 'base'; index: number } | { from: 'sender' };

/**
 * Where each block of `target` comes from: the base's block at the same index when it matches (the
 * common case, and reads the base in order), else any base block with the same hash (content shifted
 * by whole blocks), else the sender. Lists cut with another block size share nothing.
 */
export function planBlocks(base: BlockList, target: BlockList): BlockSource[] {
  if (base.blockSize !== target.blockSize) return target.blocks.map(() => ({ from: 'sender' }));
  const firstWithHash = new Map<string, number>();
  base.blocks.forEach((hash, index) => {
    if (!firstWithHash.has(hash)) firstWithHash.set(hash, index);
  });
  return target.blocks.map((hash, index): BlockSource => {
    if (base.blocks[index] === hash) return { from: 'base', index };
    const elsewhere = firstWithHash.get(hash);
    return elsewhere === undefined ? { from: 'sender' } : { from: 'base', index: elsewhere };
  });
}

/** The indexes of the target's blocks that come from the sender, as inclusive ranges in ascending order. */
export function senderRanges(sources: BlockSource[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  sources.forEach((source, index) => {
    if (source.from !== 'sender') return;
    const last = ranges.at(-1);
    if (last && last[1] === index - 1) last[1] = index;
    else ranges.push([index, index]);
  });
  return ranges;
}

/** The bytes the sender's blocks hold (what moves). */
export function senderBytes(sources: BlockSource[], target: Pick<BlockList, 'size' | 'blockSize'>): number {
  return sources.reduce((sum, source, index) => sum + (source.from === 'sender' ? blockLength(index, target.size, target.blockSize) : 0), 0);
}

/** Ranges as a query parameter: `3,7-9`. */
export const rangesText = (ranges: Array<[number, number]>): string => ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');

export const BLOCK_RANGES_TEXT = /^\d{1,9}(?:-\d{1,9})?(?:,\d{1,9}(?:-\d{1,9})?)*$/;

/**
 * Parses `3,7-9` for a file of `count` blocks: ascending, not overlapping, each within the file — or
 * null, so that a request naming blocks outside the file is refused rather than cut short.
 */
export function parseRanges(text: string, count: number): Array<[number, number]> | null {
  if (!BLOCK_RANGES_TEXT.test(text)) return null;
  const ranges: Array<[number, number]> = [];
  for (const part of text.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    const previous = ranges.at(-1);
    if (b < a || b >= count || (previous && a <= previous[1])) return null;
    ranges.push([a, b]);
  }
  return ranges;
}

/**
 * An upload's delta body (PUT /files/upload-delta) is a sequence of instructions that, in order, write
 * the new file from its start:
 * - COPY: 1 byte 0x01, u32 first, u32 count — blocks first … first+count-1 of the receiver's current file;
 * - LITERAL: 1 byte 0x02, u32 length (1 … block size) — then that many bytes of the new file.
 * Big-endian. Every instruction writes at least one byte, so a body cannot grow without writing.
 */
export const DELTA_COPY = 0x01;
export const DELTA_LITERAL = 0x02;
export const COPY_RECORD_BYTES = 9;
export const LITERAL_HEADER_BYTES = 5;

export type DeltaInstruction = { copy: { first: number; count: number } } | { literal: { index: number; length: number } };

/** The instructions that build `target` from `sources`: consecutive base blocks as one copy, each sender block as a literal. */
export function deltaInstructions(sources: BlockSource[], target: Pick<BlockList, 'size' | 'blockSize'>): DeltaInstruction[] {
  const out: DeltaInstruction[] = [];
  sources.forEach((source, index) => {
    if (source.from === 'sender') {
      out.push({ literal: { index, length: blockLength(index, target.size, target.blockSize) } });
      return;
    }
    const last = out.at(-1);
    if (last && 'copy' in last && last.copy.first + last.copy.count === source.index) last.copy.count++;
    else out.push({ copy: { first: source.index, count: 1 } });
  });
  return out;
}

/** The length of a delta body (for its content-length). */
export function deltaBodyBytes(instructions: DeltaInstruction[]): number {
  return instructions.reduce((sum, i) => sum + ('copy' in i ? COPY_RECORD_BYTES : LITERAL_HEADER_BYTES + i.literal.length), 0);
}

export function copyRecord(first: number, count: number): Buffer {
  const record = Buffer.alloc(COPY_RECORD_BYTES);
  record.writeUInt8(DELTA_COPY, 0);
  record.writeUInt32BE(first, 1);
  record.writeUInt32BE(count, 5);
  return record;
}

export function literalHeader(length: number): Buffer {
  const header = Buffer.alloc(LITERAL_HEADER_BYTES);
  header.writeUInt8(DELTA_LITERAL, 0);
  header.writeUInt32BE(length, 1);
  return header;
}
