// File-system calls made synchronously while the disk answers from its cache. An asynchronous fs call
// costs about 40 µs of CPU in hand-offs to and from libuv's threads (measured on a 2-core VM), a
// synchronous stat of a cached inode about 2 µs, and a scan or a bundle makes several per file.
// - Only on a local file system (Linux): a network or FUSE one may take any time to answer, or hang,
//   so its calls are asynchronous from the start (quickFsFor).
// - The event loop is given back every SLICE_MS.
// - Once the disk answers slowly (a cold cache, a failing disk) — SLOW_CALLS of the last 8 calls over
//   SLOW_CALL_MS — every later call of the same QuickFs is asynchronous. Not a single slow call: on a
//   busy machine a fast call is now and then descheduled for a few milliseconds.
import { closeSync, constants, lstatSync, openSync, readdirSync, readSync, statSync, type Dirent, type Stats } from 'node:fs';
import { lstat, open, readdir, stat, statfs } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { readAt } from './read-at.ts';

/** Synchronous work between two turns of the event loop. */
const SLICE_MS = 5;
/** A synchronous call slower than this is slow… */
const SLOW_CALL_MS = 2;
/** …and this many slow ones among the last 8 calls mean that the disk is not answering from its cache. */
const SLOW_CALLS = 3;

/** Opening for reading never waits: a FIFO put where a file was (a race with a stat) would hold the event loop. */
const READ_NOW = constants.O_RDONLY | constants.O_NONBLOCK;

/** statfs types (Linux f_type) of file systems reached over a network or through FUSE. */
const REMOTE_FILE_SYSTEMS = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xfe534d42, // SMB2
  0xff534d42, // CIFS
  0x65735546, // FUSE (sshfs, s3fs, rclone…)
  0x00c36400, // Ceph
  0x5346414f, // AFS
  0x01021997, // 9p
  0x0bd00bd0, // Lustre
  0x7461636f, // OCFS2
  0x01161970, // GFS2
]);

/** Whether a file system of this statfs type is reached over a network or through FUSE. */
export const isRemoteFileSystem = (type: number): boolean => REMOTE_FILE_SYSTEMS.has(type);

/** A QuickFs for calls under `folder`: asynchronous from the start unless it is on a local file system on Linux. */
export async function quickFsFor(folder: string): Promise<QuickFs> {
  const local =
    process.platform === 'linux' &&
    (await statfs(folder).then(
      (info) => !isRemoteFileSystem(Number(info.type)),
      () => false,
    ));
  return new QuickFs({ slow: !local });
}

/** `quick`'s synchronous way when there is a QuickFs (see QuickFs.run), else the asynchronous call. */
export const quickly = <T>(quick: QuickFs | undefined, sync: () => T, slow: () => Promise<T>): Promise<T> => (quick ? quick.run(sync, slow) : slow());

export class QuickFs {
  readonly #slowCallMs: number;
  #sliceStart = Number.NEGATIVE_INFINITY;
  /** The last 8 calls, one bit each, the newest lowest: 1 when it was slow. */
  #recent = 0;
  #slow: boolean;

  /**
   * `slow`: every call asynchronous from the start (a network file system). `slowCallMs`: how long a
   * call may take before it counts as slow (tests make every call slow with -1).
   */
  constructor(options: { slow?: boolean; slowCallMs?: number } = {}) {
    this.#slow = options.slow ?? false;
    this.#slowCallMs = options.slowCallMs ?? SLOW_CALL_MS;
  }

  /** Whether every call is now asynchronous (a network file system, or a disk found slow). */
  get slow(): boolean {
    return this.#slow;
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
          return await readAt(handle, Buffer.allocUnsafe(max), 0, max);
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
      this.#recent = ((this.#recent << 1) | (performance.now() - started > this.#slowCallMs ? 1 : 0)) & 0xff;
      if (slowAmong(this.#recent) >= SLOW_CALLS) this.#slow = true;
    }
  }
}

/** How many of the recorded calls were slow (the bits set). */
function slowAmong(recent: number): number {
  let count = 0;
  for (let bits = recent; bits; bits &= bits - 1) count++;
  return count;
}
