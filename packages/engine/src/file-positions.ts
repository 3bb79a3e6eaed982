// The file positions a catch-up remembers for detection: up to which change sequence each side's file
// changes are held by the other. Taken at plan time, they stay below the changes the sync itself made
// (downloads here, uploads there), and the next detection would run a catch-up that moves nothing. So
// once every folder synced, each side's changes since are read back: a change both sides now agree on
// (file_sync_state) is held by the other, and the position moves past it; the first one they do not
// agree on (a file written meanwhile, or received from a third node) stops it.
import { MANIFEST_PAGE_MAX, readBase, readManifest, type Base, type FileDirectory, type ManifestPage } from '@catchup/files';
import type { SyncServer } from '@catchup/db';
import type { PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';

export interface FilePositions {
  local: string;
  peer: string;
}

/**
 * A page of one side's changes to a folder since a position, in change order (a manifest page); without
 * latest_seq (a peer of an older version), how far it is complete is unknown.
 */
type ChangesPage = Pick<ManifestPage, 'next_seq' | 'has_more'> & {
  files: Pick<ManifestPage['files'][number], 'path' | 'sha256' | 'deleted' | 'change_seq'>[];
  latest_seq?: string;
};

const agreedOn = (entry: ChangesPage['files'][number], base: Base): boolean => base.get(entry.path) === (entry.deleted ? null : entry.sha256);

/**
 * How far a folder's changes are held by the other side, from a page of its changes after `from`: up to
 * the first change not agreed on (exclusive), else as far as the page is complete. Never below `from`.
 */
export function folderHeldThrough(from: bigint, page: ChangesPage, base: Base): bigint {
  if (page.latest_seq === undefined) return from;
  const complete = page.has_more ? BigInt(page.next_seq) : BigInt(page.latest_seq);
  const unheld = page.files.find((entry) => !agreedOn(entry, base));
  const through = unheld ? BigInt(unheld.change_seq) - 1n : complete;
  return through > from ? through : from;
}

/** The position held across folders: the lowest of theirs (sequences are shared by all folders). */
export function heldThrough(from: bigint, folders: bigint[]): bigint {
  return folders.reduce((low, seq) => (seq < low ? seq : low), folders[0] ?? from);
}

/**
 * The positions to remember after every folder in `directories` synced with `server`, from those taken
 * at plan time. One page of each side's changes per folder: a sync that settled more than a page moves
 * the position through that page only. A peer that cannot say how far its page is complete (an older
 * version) or does not answer keeps the plan's position.
 */
export async function filePositionsAfterSync(
  ctx: EngineContext,
  server: SyncServer,
  directories: FileDirectory[],
  planned: FilePositions,
): Promise<FilePositions> {
  const client = ctx.peerClient(server, await ctx.settings());
  const [fromLocal, fromPeer] = [BigInt(planned.local), BigInt(planned.peer)];
  const folders = await Promise.all(
    directories.map(async (directory) => {
      const [base, here, there] = await Promise.all([
        readBase(ctx.pool, server.id, directory),
        readManifest(ctx.pool, directory, { afterSeq: planned.local, limit: MANIFEST_PAGE_MAX }),
        peerChanges(client, directory, planned.peer),
      ]);
      return { local: folderHeldThrough(fromLocal, here, base), peer: folderHeldThrough(fromPeer, there, base) };
    }),
  );
  const local = heldThrough(
    fromLocal,
    folders.map((f) => f.local),
  );
  const peer = heldThrough(
    fromPeer,
    folders.map((f) => f.peer),
  );
  return { local: String(local), peer: String(peer) };
}

async function peerChanges(client: PeerClient, directory: FileDirectory, after: string): Promise<ChangesPage> {
  try {
    return await client.fileManifest(directory, after, MANIFEST_PAGE_MAX, false);
  } catch {
    return { files: [], next_seq: after, has_more: false }; // no latest_seq: the plan's position stays
  }
}

/**
 * Whether the peer holds file changes this node lacks, past the position remembered for it. A ping
 * reports the peer's manifest as it stands, without what its disk gained since its last scan: each
 * folder synced with it is scanned there first (a manifest page of at most one entry), so that its new
 * files are seen now, not after its own next detection. A peer that does not say how far its manifest
 * goes (an older version), or fails to scan, is judged by its ping.
 */
export async function peerFilesChanged(ctx: EngineContext, server: SyncServer, directories: FileDirectory[], pingLatest: string): Promise<boolean> {
  const client = ctx.peerClient(server, await ctx.settings());
  const scanned = await Promise.all(
    directories.map((directory) =>
      client.fileManifest(directory, pingLatest, 1, true).then(
        (page) => page.latest_seq ?? pingLatest,
        () => pingLatest,
      ),
    ),
  );
  return [pingLatest, ...scanned].some((seq) => BigInt(seq) > server.fileSeqPeer);
}
