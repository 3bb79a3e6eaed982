// A file sync decides from both manifests, then acts; the application may write a file in between. A
// local file is replaced or removed only while it is still what the decision saw, so that a write made
// after the comparison is never overwritten unseen (F4): it is left for the next sync, which sees it.
//
// Checking and then renaming leaves a window between the two (a loaded event loop makes it milliseconds),
// so the check comes after the act: the file in place is first kept aside under a hard link (a new name
// for the same inode, so a writer that has it open writes into what is kept), the new file goes in by
// rename, and the kept one is then checked; if it changed, it is put back. Kept files carry the temp
// prefix: never synced, and swept by a scan if a crash leaves one behind.
import { randomBytes } from 'node:crypto';
import { linkSync, lstatSync, renameSync, unlinkSync, type Stats } from 'node:fs';
import { link, lstat, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { TEMP_FILE_PREFIX } from './exclude.ts';
import type { QuickFs } from './quick-fs.ts';

/** What a path held when the decision was made: a file of this size and mtime, or nothing. */
export type ComparedState = { size: number; mtimeMs: number } | 'absent';

/** What the path holds now (lstat), in the same terms. */
type CurrentState = { size: number; mtimeMs: number; isFile: boolean } | 'absent';

/** Whether the path still holds what the decision saw (mtimes compared in whole milliseconds, as manifests keep them). */
export function unchangedSince(compared: ComparedState, current: CurrentState): boolean {
  if (compared === 'absent' || current === 'absent') return compared === current;
  return current.isFile && current.size === compared.size && Math.floor(current.mtimeMs) === Math.floor(compared.mtimeMs);
}

/** The calls that put a file in place: asynchronous ones, or a bundle's QuickFs (see quick-fs.ts). */
interface PlacementCalls {
  link(existing: string, name: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  lstat(file: string): Promise<Stats>;
  unlink(file: string): Promise<void>;
}

const asyncCalls: PlacementCalls = { link, rename, lstat, unlink };

const quickCalls = (quick: QuickFs): PlacementCalls => ({
  link: (existing, name) =>
    quick.run(
      () => linkSync(existing, name),
      () => link(existing, name),
    ),
  rename: (from, to) =>
    quick.run(
      () => renameSync(from, to),
      () => rename(from, to),
    ),
  lstat: (file) =>
    quick.run(
      () => lstatSync(file),
      () => lstat(file),
    ),
  unlink: (file) =>
    quick.run(
      () => unlinkSync(file),
      () => unlink(file),
    ),
});

async function currentState(target: string, calls: PlacementCalls = asyncCalls): Promise<CurrentState> {
  try {
    const info = await calls.lstat(target);
    return { size: info.size, mtimeMs: info.mtimeMs, isFile: info.isFile() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}

/** The file changed here after it was compared with the peer; nothing was replaced or removed. */
export class ChangedSinceComparedError extends Error {
  constructor(relative: string) {
    super(`${relative}: changed here since it was compared with the peer; left as it is for the next sync`);
    this.name = 'ChangedSinceComparedError';
  }
}

/** Throws ChangedSinceComparedError unless `target` still holds what the decision saw. */
async function assertUnchangedSince(target: string, relative: string, compared: ComparedState | undefined, calls = asyncCalls): Promise<void> {
  if (compared !== undefined && !unchangedSince(compared, await currentState(target, calls))) throw new ChangedSinceComparedError(relative);
}

const keptName = (target: string) => path.join(path.dirname(target), `${TEMP_FILE_PREFIX}${randomBytes(6).toString('hex')}`);
/** link(2) errors of a filesystem that has no hard links (FAT, some network and FUSE filesystems). */
const HARD_LINKS_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);
const errorCode = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code;

/** Removes a name of ours (a temp or kept file) in one unlink (rm would lstat first); already gone is fine. */
async function unlinkOurs(file: string, calls = asyncCalls): Promise<void> {
  try {
    await calls.unlink(file);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Renames `temp` to `target` only while `target` holds what the decision saw (see the top of this file);
 * otherwise leaves `target` as it is and throws ChangedSinceComparedError (`temp` is the caller's to remove).
 * `quick`: a bundle's, whose calls are synchronous while the disk answers from its cache.
 */
export async function replaceIfUnchanged(temp: string, target: string, relative: string, compared: ComparedState, quick?: QuickFs): Promise<void> {
  const calls = quick ? quickCalls(quick) : asyncCalls;
  if (compared === 'absent') {
    // A new name only: link fails when a file appeared there meanwhile.
    try {
      await calls.link(temp, target);
    } catch (err) {
      if (errorCode(err) === 'EEXIST') throw new ChangedSinceComparedError(relative);
      if (!HARD_LINKS_UNSUPPORTED.has(errorCode(err) ?? '')) throw err;
      await assertUnchangedSince(target, relative, compared, calls);
      await calls.rename(temp, target);
      return;
    }
    await unlinkOurs(temp, calls);
    return;
  }
  await assertUnchangedSince(target, relative, compared, calls);
  const kept = keptName(target);
  try {
    await calls.link(target, kept);
  } catch (err) {
    // Gone or no longer a file (a folder cannot be linked): not what was compared. On a filesystem
    // without hard links, the check before the rename is all there is.
    await assertUnchangedSince(target, relative, compared, calls);
    if (!HARD_LINKS_UNSUPPORTED.has(errorCode(err) ?? '')) throw err;
    await calls.rename(temp, target);
    return;
  }
  try {
    await calls.rename(temp, target);
  } catch (err) {
    await rm(kept, { force: true });
    throw err;
  }
  if (unchangedSince(compared, await currentState(kept, calls))) {
    // Always on libuv's threads: the kept file holds the old version's blocks, and freeing them can wait
    // on the disk (a discard), while the other placements of a bundle go on.
    await unlinkOurs(kept);
    return;
  }
  await calls.rename(kept, target); // a write made after the comparison: it stays, the received version goes
  throw new ChangedSinceComparedError(relative);
}

/**
 * Removes `target` only while it holds what the decision saw (see the top of this file). False when it
 * was absent as compared; throws ChangedSinceComparedError when it changed (and leaves it in place).
 */
export async function removeIfUnchanged(target: string, relative: string, compared: ComparedState): Promise<boolean> {
  await assertUnchangedSince(target, relative, compared);
  if (compared === 'absent') return false;
  const kept = keptName(target);
  try {
    await rename(target, kept);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw new ChangedSinceComparedError(relative);
    throw err;
  }
  if (unchangedSince(compared, await currentState(kept))) {
    await rm(kept, { recursive: true, force: true });
    return true;
  }
  await rename(kept, target); // a write made after the comparison: put back
  throw new ChangedSinceComparedError(relative);
}

/** A ComparedState as a peer announces it (query parameter `replaces`, bundle header field). */
export const COMPARED_TEXT = /^(?:absent|\d{1,15}:\d{1,15})$/;
export const COMPARED_TEXT_RULE = "'absent' or '<size>:<mtime_ms>' of the version the sender compared";

export const comparedText = (state: ComparedState): string => (state === 'absent' ? 'absent' : `${state.size}:${Math.floor(state.mtimeMs)}`);

export function parseComparedText(text: string): ComparedState {
  if (text === 'absent') return 'absent';
  const [size, mtimeMs] = text.split(':').map(Number) as [number, number];
  return { size, mtimeMs };
}
