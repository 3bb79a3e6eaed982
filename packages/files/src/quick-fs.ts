// File-system calls made synchronously while the disk answers from its cache. An asynchronous fs call
// costs about 40 µs of CPU in hand-offs to and from libuv's threads (measured on a 2-core VM), a
// synchronous stat of a cached inode about 2 µs, and a scan or a bundle makes several per file. The event
// loop is given back every SLICE_MS, and once the disk has answered a few calls slowly (a cold cache, a
// network mount) every later call of the same QuickFs is asynchronous, so that a slow disk never holds
// the event loop for long. (A few, not one: on a busy machine a fast call is sometimes descheduled.)
import { closeSync, constants, lstatSync, openSync, readdirSync, readSync, statSync, type Dirent, type Stats } from 'node:fs';
import { lstat, open, readdir, stat } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Synchronous work between two turns of the event loop. */
const SLICE_MS = 5;
/** A synchronous call slower than this is slow… */
const SLOW_CALL_MS = 2;
/** …and this many slow calls mean that the disk is not answering from its cache. */
const SLOW_CALLS = 3;

/** Opening for reading never waits: a FIFO put where a file was (a race with a stat) would hold the event loop. */
const READ_NOW = constants.O_RDONLY | constants.O_NONBLOCK;

export class QuickFs {
  readonly #slowCallMs: number;
  #sliceStart = Number.NEGATIVE_INFINITY;
  #slowCalls = 0;

  /** `slowCallMs`: how long a call may take before it counts as slow (tests make every disk slow with -1). */
  constructor(slowCallMs = SLOW_CALL_MS) {
    this.#slowCallMs = slowCallMs;
  }

  /** Whether the disk was found slow: every later call is asynchronous. */
  get slow(): boolean {
    return this.#slowCalls >= SLOW_CALLS;
  }

  /** The file's stats (following a symlink), or null when it cannot be stat'ed (gone, no access). */
  stat(file: string): Promise<Stats | null> {
    return this.run(
      () => statSync(file, { throwIfNoEntry: false }) ?? null,
      () => stat(file),
    ).catch(() => null);
  }

  /** The stats of the name itself (a symlink is not followed), or null when there is nothing there. */
  lstat(file: string): Promise<Stats | null> {
    return this.run(
      () => lstatSync(file, { throwIfNoEntry: false }) ?? null,
      () => lstat(file),
    ).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
  }

  /** A folder's entries with their types. */
  readdir(folder: string): Promise<Dirent[]> {
    return this.run(
      () => readdirSync(folder, { withFileTypes: true }),
      () => readdir(folder, { withFileTypes: true }),
    );
  }

  /** Up to `max` bytes from the file's start (fewer at its end): a small file whole, in one read. */
  readUpTo(file: string, max: number): Promise<Buffer> {
    return this.run(
      () => {
        const fd = openSync(file, READ_NOW);
        try {
          const buffer = Buffer.allocUnsafe(max);
          let filled = 0;
          for (let n = -1; filled < max && n !== 0; filled += n) n = readSync(fd, buffer, filled, max - filled, filled);
          return buffer.subarray(0, filled);
        } finally {
          closeSync(fd);
        }
      },
      async () => {
        const handle = await open(file, READ_NOW);
        try {
          const buffer = Buffer.allocUnsafe(max);
          let filled = 0;
          for (let n = -1; filled < max && n !== 0; filled += n) n = (await handle.read(buffer, filled, max - filled, filled)).bytesRead;
          return buffer.subarray(0, filled);
        } finally {
          await handle.close();
        }
      },
    );
  }

  /** `quick` (synchronous calls) while the disk answers from its cache, else `slow`. */
  async run<T>(quick: () => T, slow: () => Promise<T>): Promise<T> {
    if (this.slow) return slow();
    if (performance.now() - this.#sliceStart > SLICE_MS) {
      await nextTurn();
      this.#sliceStart = performance.now();
    }
    const started = performance.now();
    try {
      return quick();
    } finally {
      if (performance.now() - started > this.#slowCallMs) this.#slowCalls++;
    }
  }
}
