// Deciding, per path, what a file sync does (F4), from the two manifests and the base — what both sides
// agreed on after the last sync with this peer.
export interface Side {
  /** null when the file is absent or deleted. */
  sha256: string | null;
  mtimeMs: number;
  size: number;
}

export type FileAction =
  | { kind: 'none' }
  | { kind: 'upload' }
  | { kind: 'download' }
  | { kind: 'delete-remote' }
  | { kind: 'delete-local' }
  /** Both changed: the newer wins at the path, the other is kept beside it on both sides. */
  | { kind: 'conflict'; winner: 'local' | 'remote' };

/**
 * @param base sha256 agreed at the last sync (null: deleted on both), or undefined when never synced.
 * @param baseFromAnotherPeer the base is a version agreed with another peer (never synced with this one).
 * Ties in mtime go to the side whose node name sorts higher, so both nodes decide the same way.
 */
export function decide(
  local: Side,
  remote: Side,
  base: string | null | undefined,
  localName: string,
  remoteName: string,
  baseFromAnotherPeer = false,
): FileAction {
  if (local.sha256 === remote.sha256) return { kind: 'none' };
  const localChanged = base === undefined ? local.sha256 !== null : local.sha256 !== base;
  const remoteChanged = base === undefined ? remote.sha256 !== null : remote.sha256 !== base;
  // A base agreed with another peer says this version went through this node, not that the other side
  // grew from it: it may overwrite only an older version (else both are kept, as in a conflict).
  const overwritesNewer = baseFromAnotherPeer && local.sha256 !== null && remote.sha256 !== null && local.mtimeMs !== remote.mtimeMs;
  if (localChanged && !remoteChanged && !(overwritesNewer && remote.mtimeMs > local.mtimeMs)) {
    return local.sha256 === null ? { kind: 'delete-remote' } : { kind: 'upload' };
  }
  if (remoteChanged && !localChanged && !(overwritesNewer && local.mtimeMs > remote.mtimeMs)) {
    return remote.sha256 === null ? { kind: 'delete-local' } : { kind: 'download' };
  }
  // Both changed. A deletion never beats a change: nothing is silently lost.
  if (local.sha256 === null) return { kind: 'download' };
  if (remote.sha256 === null) return { kind: 'upload' };
  const localNewer = local.mtimeMs !== remote.mtimeMs ? local.mtimeMs > remote.mtimeMs : localName > remoteName;
  return { kind: 'conflict', winner: localNewer ? 'local' : 'remote' };
}

/** Hex digits of the kept version's sha256 in a conflict copy's name. */
const CONFLICT_HASH_CHARS = 8;

/**
 * `photos/robot.jpg` → `photos/robot.sync-conflict-20261126T143000Z-3f9a1c07.jpg`, where `at` is the kept
 * version's modification time and the digits begin its sha256. The name depends only on the version
 * kept, so every node that settles the same conflict — whichever peer it learned that version from —
 * names the copy alike and keeps one, not one per node.
 */
export function conflictCopyName(relative: string, at: Date, sha256: string): string {
  const slash = relative.lastIndexOf('/');
  const dir = relative.slice(0, slash + 1);
  const base = relative.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `${dir}${stem}.sync-conflict-${stamp}-${sha256.slice(0, CONFLICT_HASH_CHARS)}${ext}`;
}

/** Where a name is a file on one side and a folder on the other. */
export type Clash = 'file here' | 'folder here';

/**
 * Names that are a file on one side and a folder on the other (`x` here, `x/…` on the peer): neither
 * can be put in place over the other, so nothing at or under such a name is synced until someone
 * renames or removes one of them. `local` and `remote` are the files present on each side.
 */
export function fileFolderClashes(local: Iterable<string>, remote: Iterable<string>): Map<string, Clash> {
  const clashes = new Map<string, Clash>();
  const localFiles = new Set(local);
  const remoteFiles = new Set(remote);
  const folderOver = (files: Set<string>, others: Set<string>, clash: Clash) => {
    for (const file of files) {
      for (let slash = file.indexOf('/'); slash > 0; slash = file.indexOf('/', slash + 1)) {
        if (others.has(file.slice(0, slash))) clashes.set(file.slice(0, slash), clash);
      }
    }
  };
  folderOver(localFiles, remoteFiles, 'folder here');
  folderOver(remoteFiles, localFiles, 'file here');
  return clashes;
}

/** The clashing name `file` is at or under, if any. */
export function clashCovering(file: string, clashes: Map<string, Clash>): string | undefined {
  if (clashes.has(file)) return file;
  for (let slash = file.indexOf('/'); slash > 0; slash = file.indexOf('/', slash + 1)) {
    if (clashes.has(file.slice(0, slash))) return file.slice(0, slash);
  }
  return undefined;
}
