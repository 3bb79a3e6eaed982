// A bundle: many small files in one transfer (F3), so that a catch-up of hundreds of small files is not
// hundreds of requests. Each file is a header line of JSON — {"file","sha256","size","mtime_ms"} — then
// exactly `size` bytes. The receiver verifies every file into a temp file first and puts them in place
// only when all of them passed: a bad entry anywhere changes nothing.
import { mkdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { checkRelativePath } from './confine.ts';
import { settleInParallel, throwFirstFailure } from './in-parallel.ts';
import { quickFsFor, type QuickFs } from './quick-fs.ts';
import { COMPARED_TEXT, COMPARED_TEXT_RULE, comparedText, parseComparedText, type ComparedState } from './as-compared.ts';
import {
  commitReceived,
  discardReceived,
  ensureRoom,
  isPlausibleMtime,
  MTIME_RULE,
  receiveToTemp,
  ReceivingFolders,
  ROOM_CHECK_BYTES,
  syncReceived,
  TransferRejectedError,
  type Received,
} from './write.ts';

export interface BundleEntry {
  file: string;
  sha256: string;
  size: number;
  mtimeMs: number;
  /** What the receiver's file held when the sender compared: it is replaced only while it still does. */
  replaces?: ComparedState;
}

const MAX_HEADER_BYTES = 4096;
/** Each entry stays open until the bundle ends (its fsync is deferred): this bounds the descriptors. */
export const MAX_BUNDLE_ENTRIES = 200;

function headerOf(entry: BundleEntry): Buffer {
  const replaces = entry.replaces === undefined ? {} : { replaces: comparedText(entry.replaces) };
  return Buffer.from(`${JSON.stringify({ file: entry.file, sha256: entry.sha256, size: entry.size, mtime_ms: Math.floor(entry.mtimeMs), ...replaces })}\n`);
}

/** The bundle's bytes and exact length; `open` gives each file's content when its turn comes. */
export function encodeBundle(entries: BundleEntry[], open: (entry: BundleEntry) => AsyncIterable<Buffer>): { body: Readable; length: number } {
  const headers = entries.map(headerOf);
  const length = headers.reduce((sum, h, i) => sum + h.length + entries[i]!.size, 0);
  async function* frames() {
    for (const [i, entry] of entries.entries()) {
      yield headers[i]!;
      yield* open(entry);
    }
  }
  return { body: Readable.from(frames(), { objectMode: false }), length };
}

/**
 * A bundled file's announced bytes, in one read (`quick`: one per bundle): bundles hold small files, and
 * a stream per file costs more than its bytes. At most one byte more is read, so that a file that grew
 * since it was described (to any size) costs no memory; the peer refuses the bundle whose entry is
 * longer than announced.
 */
export async function* bundledBytes(file: string, size: number, quick: QuickFs): AsyncGenerator<Buffer> {
  yield await quick.readUpTo(file, size + 1);
}

/** Reads lines and exact byte counts from a stream of chunks. */
class ByteReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.#chunks = source[Symbol.asyncIterator]();
  }

  async #more(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, next.value]) : next.value;
    return true;
  }

  /** The next line without its newline; null at a clean end of the stream. */
  async line(): Promise<string | null> {
    for (;;) {
      const newline = this.#buffer.indexOf(10);
      if (newline >= 0 && newline <= MAX_HEADER_BYTES) {
        const text = this.#buffer.subarray(0, newline).toString('utf8');
        this.#buffer = this.#buffer.subarray(newline + 1);
        return text;
      }
      if (newline > MAX_HEADER_BYTES || this.#buffer.length > MAX_HEADER_BYTES) {
        throw new TransferRejectedError('format', `a header line is longer than ${MAX_HEADER_BYTES} bytes`);
      }
      if (!(await this.#more())) {
        if (this.#buffer.length === 0) return null;
        throw new TransferRejectedError('format', 'the bundle ends inside a header line');
      }
    }
  }

  /** Up to `count` bytes, in pieces (fewer if the stream ends early). */
  async *exactly(count: number): AsyncGenerator<Buffer> {
    let left = count;
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#more())) return;
      const take = Math.min(left, this.#buffer.length);
      const piece = this.#buffer.subarray(0, take);
      this.#buffer = this.#buffer.subarray(take);
      left -= take;
      yield piece;
    }
  }
}

function parseHeader(line: string, index: number): BundleEntry {
  const fail = (field: string, what: string) => new TransferRejectedError('format', `entry #${index}: ${field}: ${what}`);
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw fail('header', 'not JSON');
  }
  const h = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  if (typeof h.file !== 'string' || h.file.length === 0 || h.file.length > 1024) throw fail('file', 'a relative path of 1-1024 characters');
  checkRelativePath(h.file);
  if (typeof h.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(h.sha256)) throw fail('sha256', 'a lower-case hex sha256');
  if (!Number.isSafeInteger(h.size) || (h.size as number) < 0) throw fail('size', 'a non-negative integer');
  if (!Number.isSafeInteger(h.mtime_ms) || !isPlausibleMtime(h.mtime_ms as number)) throw fail('mtime_ms', MTIME_RULE);
  if (h.replaces !== undefined && (typeof h.replaces !== 'string' || !COMPARED_TEXT.test(h.replaces))) throw fail('replaces', COMPARED_TEXT_RULE);
  const entry: BundleEntry = { file: h.file, sha256: h.sha256, size: h.size as number, mtimeMs: h.mtime_ms as number };
  return h.replaces === undefined ? entry : { ...entry, replaces: parseComparedText(h.replaces as string) };
}

/** Received files put in place at once. */
const PLACED_AT_ONCE = 8;
/** Entries up to this size are read into memory and written while the next ones arrive. */
const BUFFERED_ENTRY_BYTES = 1024 * 1024;
/** Bytes of buffered entries waiting for the disk at once, per bundle (bounds memory). */
const IN_FLIGHT_BYTES = 4 * 1024 * 1024;

async function collect(pieces: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const piece of pieces) chunks.push(piece);
  return chunks;
}

/**
 * Receives a bundle into `root`: every entry verified into a temp file, then all renamed into place.
 * Throws (leaving nothing behind, the old files untouched) on the first bad entry. A bundle of
 * `totalBytes` (from ROOM_CHECK_BYTES on) that cannot fit on the disk is refused before it is read.
 */
export async function receiveBundle(root: string, source: AsyncIterable<Buffer>, maxBytes = Number.MAX_SAFE_INTEGER, totalBytes = 0): Promise<BundleEntry[]> {
  await mkdir(root, { recursive: true });
  if (totalBytes >= ROOM_CHECK_BYTES) await ensureRoom(root, 'the bundle', totalBytes);
  const reader = new ByteReader(source);
  const folders = new ReceivingFolders(await quickFsFor(root));
  const entries: BundleEntry[] = [];
  const names = new Set<string>();
  // Small entries are written in the background while the next ones are read, so that one file's disk
  // round trips (open, write, close) do not wait for the previous file's.
  const writes: Promise<Received>[] = [];
  const inFlight = new Set<Promise<void>>();
  let inFlightBytes = 0;
  let writeFailed = false;
  let parseError: unknown = null;
  try {
    for (let line = await reader.line(); line !== null && !writeFailed; line = await reader.line()) {
      if (entries.length === MAX_BUNDLE_ENTRIES) throw new TransferRejectedError('format', `more than ${MAX_BUNDLE_ENTRIES} entries`);
      const entry = parseHeader(line, entries.length);
      if (names.has(entry.file)) throw new TransferRejectedError('format', `entry #${entries.length}: file: ${entry.file} appears twice`);
      names.add(entry.file);
      entries.push(entry);
      if (entry.size > BUFFERED_ENTRY_BYTES || entry.size > maxBytes) {
        // Streamed straight to its temp file (receiveToTemp refuses what is over the limit).
        const write = receiveToTemp(root, entry.file, reader.exactly(entry.size), entry, maxBytes, { deferSync: true, folders });
        writes.push(write);
        await write;
        continue;
      }
      while (inFlightBytes + entry.size > IN_FLIGHT_BYTES && inFlight.size) await Promise.race(inFlight);
      const write = receiveToTemp(root, entry.file, await collect(reader.exactly(entry.size)), entry, maxBytes, { deferSync: true, folders });
      writes.push(write);
      inFlightBytes += entry.size;
      const done: Promise<void> = write
        .then(
          () => {},
          () => {
            writeFailed = true; // stop reading: the bundle is refused anyway
          },
        )
        .finally(() => {
          inFlight.delete(done);
          inFlightBytes -= entry.size;
        });
      inFlight.add(done);
    }
  } catch (err) {
    parseError = err;
  }
  const outcomes = await Promise.allSettled(writes);
  const received = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  try {
    // The first bad entry (in bundle order) is the one reported.
    throwFirstFailure(outcomes);
    if (parseError) throw parseError;
    // One wait for all the fsyncs instead of one per file.
    await syncReceived(received);
    // A folder where a file should go would fail its rename after others were put in place.
    const isFolder = await Promise.all(received.map(async (r) => (await folders.quick.lstat(r.target).catch(() => null))?.isDirectory() ?? false));
    const folder = isFolder.indexOf(true);
    if (folder >= 0) throw new TransferRejectedError('conflict', `entry #${folder}: file: ${entries[folder]!.file} is a folder here`);
  } catch (err) {
    await discardReceived(received);
    throw err;
  }
  // Renaming can still fail (say, a folder appeared meanwhile): the temp files are not left behind. The
  // renames are independent (no name twice in a bundle) and each is a few disk round trips: a few at once.
  const placed = await settleInParallel(received, PLACED_AT_ONCE, (r, i) => commitReceived(r, entries[i]!.replaces, folders.quick));
  try {
    throwFirstFailure(placed);
  } catch (err) {
    await discardReceived(received);
    throw err;
  }
  return entries;
}
