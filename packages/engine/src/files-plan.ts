// What a file sync of one folder with one peer does (F4), decided without I/O: from both manifests and
// the bases, a step per path that needs one, and the order in which the steps travel.
import {
  clashCovering,
  conflictCopyName,
  decide,
  fileFolderClashes,
  MAX_BUNDLE_ENTRIES,
  type Base,
  type Clash,
  type FileAction,
  type Manifest,
  type ManifestFile,
  type Side,
} from '@catchup/files';

export interface PlanInput {
  local: Manifest;
  remote: Manifest;
  /** What this node agreed on with this peer at the last sync. */
  base: Base;
  /** What this node agreed on with other peers (the newest agreement per path). */
  agreedElsewhere: Map<string, string>;
  localName: string;
  remoteName: string;
}

type Conflict = Extract<FileAction, { kind: 'conflict' }>;

/**
 * What to do with one path, and both sides as they were compared. `agree`: both hold the same but the
 * base says otherwise, so it is recorded; a conflict names the copy that keeps the losing version.
 */
export type FileStep = { file: string; local: Side; remote: Side } & (
  | Exclude<FileAction, { kind: 'none' } | Conflict>
  | { kind: 'agree' }
  | (Conflict & { copy: string })
);

export interface FilePlan {
  /** Names that are a file on one side and a folder on the other, by name: nothing at or under them is synced. */
  clashes: { name: string; clash: Clash }[];
  /** By path; paths both sides already agree on, as recorded, are left out. */
  steps: FileStep[];
}

const sideOf = (entry: ManifestFile | undefined): Side => ({
  sha256: entry && !entry.deleted ? entry.sha256 : null,
  mtimeMs: entry?.mtimeMs ?? 0,
  size: entry?.size ?? 0,
});

const presentFiles = (manifest: Manifest) => [...manifest].filter(([, entry]) => !entry.deleted).map(([file]) => file);

/**
 * The base a path is decided on. A path never synced with this peer but present on both sides takes
 * the version this node agreed on with another peer (a file received from a third node and unchanged
 * since is no local edit, and must not turn into a conflict); one missing on a side has no base, so a
 * first sync is a union.
 */
function baseOf(file: string, local: Side, remote: Side, input: PlanInput): { base: string | null | undefined; fromAnotherPeer: boolean } {
  if (input.base.has(file)) return { base: input.base.get(file), fromAnotherPeer: false };
  const elsewhere = local.sha256 !== null && remote.sha256 !== null ? input.agreedElsewhere.get(file) : undefined;
  return { base: elsewhere, fromAnotherPeer: elsewhere !== undefined };
}

function planPath(file: string, input: PlanInput): FileStep | null {
  const local = sideOf(input.local.get(file));
  const remote = sideOf(input.remote.get(file));
  const { base, fromAnotherPeer } = baseOf(file, local, remote, input);
  const action = decide(local, remote, base, input.localName, input.remoteName, fromAnotherPeer);
  switch (action.kind) {
    case 'none':
      return input.base.get(file) === local.sha256 ? null : { file, local, remote, kind: 'agree' };
    case 'conflict': {
      // The copy is named after the losing version (not the clock): every node settling this conflict keeps one copy.
      const loser = action.winner === 'local' ? remote : local;
      return { file, local, remote, ...action, copy: conflictCopyName(file, new Date(loser.mtimeMs), loser.sha256!) };
    }
    default:
      return { file, local, remote, ...action };
  }
}

export function planDirectory(input: PlanInput): FilePlan {
  const clashes = fileFolderClashes(presentFiles(input.local), presentFiles(input.remote));
  const paths = [...new Set([...input.local.keys(), ...input.remote.keys()])].filter((file) => !clashCovering(file, clashes)).sort();
  return {
    clashes: [...clashes].sort(([x], [y]) => (x < y ? -1 : 1)).map(([name, clash]) => ({ name, clash })),
    steps: paths.map((file) => planPath(file, input)).filter((step) => step !== null),
  };
}

/** Files up to this size go up in bundles of up to BUNDLE_BYTES (one request each) instead of one by one. */
export const SMALL_FILE_BYTES = 256 * 1024;
export const BUNDLE_BYTES = 2 * 1024 * 1024;

export type UploadStep = FileStep & { kind: 'upload' };

/** A unit of work: a bundle of small uploads, or one step. */
export type Transfer = { bundle: UploadStep[] } | { step: FileStep };

const isSmallUpload = (step: FileStep): step is UploadStep => step.kind === 'upload' && step.local.size <= SMALL_FILE_BYTES;

/** Consecutive groups of at most MAX_BUNDLE_ENTRIES uploads and BUNDLE_BYTES bytes (a file alone may exceed it). */
function groupBundles(uploads: UploadStep[]): UploadStep[][] {
  const groups: UploadStep[][] = [];
  let bytes = 0;
  for (const upload of uploads) {
    const last = groups.at(-1);
    if (!last || last.length >= MAX_BUNDLE_ENTRIES || bytes + upload.local.size > BUNDLE_BYTES) {
      groups.push([upload]);
      bytes = upload.local.size;
    } else {
      last.push(upload);
      bytes += upload.local.size;
    }
  }
  return groups;
}

/** The bytes a step moves (a delete or an agreement moves none; a conflict, both versions). */
function bytesOf(step: FileStep): number {
  switch (step.kind) {
    case 'upload':
      return step.local.size;
    case 'download':
      return step.remote.size;
    case 'conflict':
      return step.local.size + step.remote.size;
    default:
      return 0;
  }
}

/**
 * The steps as units of work — small uploads in bundles, every other step on its own — the largest
 * first (by bytes moved; in plan order among equals): a few run at once, and a folder whose last unit
 * to start is a large file waits for it alone at the end.
 */
export function transfersOf(steps: FileStep[]): Transfer[] {
  const units = [
    ...groupBundles(steps.filter(isSmallUpload)).map((bundle) => ({ transfer: { bundle }, bytes: bundle.reduce((sum, s) => sum + bytesOf(s), 0) })),
    ...steps.filter((step) => !isSmallUpload(step)).map((step) => ({ transfer: { step }, bytes: bytesOf(step) })),
  ];
  return units.sort((a, b) => b.bytes - a.bytes).map((unit) => unit.transfer);
}
