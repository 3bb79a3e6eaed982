// File catch-up of one folder with one peer (F2–F4): compare both manifests with the base agreed at the
// last sync, then move only what changed, in both directions, with bounded concurrency.
import { copyFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import {
  clashCovering,
  confinePath,
  conflictCopyName,
  decide,
  directoryRoot,
  encodeBundle,
  fileFolderClashes,
  manifestMap,
  MAX_BUNDLE_ENTRIES,
  recordDeletion,
  recordFile,
  removeFile,
  scanDirectory,
  sha256File,
  writeVerified,
  type BundleEntry,
  type ComparedState,
  type FileDirectory,
  type Side,
} from '@catchup/files';
import { PeerError, type FileManifestEntry, type PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';

export interface FileSyncOutcome {
  directory: FileDirectory;
  uploaded: number;
  downloaded: number;
  deleted: number;
  conflicts: number;
  /** Bytes moved (uploaded + downloaded). */
  bytes: number;
  errors: string[];
}

/** Transfers at once per folder: overlapping fsyncs and round trips is most of the speed. */
const CONCURRENCY = 8;
/** Files up to this size travel in bundles of up to BUNDLE_BYTES (one request each) instead of one by one. */
const SMALL_FILE_BYTES = 256 * 1024;
const BUNDLE_BYTES = 2 * 1024 * 1024;

async function remoteManifest(client: PeerClient, directory: FileDirectory): Promise<Map<string, FileManifestEntry>> {
  const files = new Map<string, FileManifestEntry>();
  let after = '0';
  for (let first = true; ; first = false) {
    // The peer brings its manifest up to date with its disk once, for the first page.
    const page = await client.fileManifest(directory, after, 1000, first);
    for (const f of page.files) files.set(f.path, f);
    if (!page.has_more) return files;
    after = page.next_seq;
  }
}

/** Consecutive groups of at most MAX_BUNDLE_ENTRIES items and BUNDLE_BYTES bytes (an item alone may exceed it). */
function groupBundles<T>(items: T[], sizeOf: (item: T) => number): T[][] {
  const groups: T[][] = [];
  let bytes = 0;
  for (const item of items) {
    const last = groups.at(-1);
    if (!last || last.length >= MAX_BUNDLE_ENTRIES || bytes + sizeOf(item) > BUNDLE_BYTES) {
      groups.push([item]);
      bytes = sizeOf(item);
    } else {
      last.push(item);
      bytes += sizeOf(item);
    }
  }
  return groups;
}

async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export async function syncDirectory(ctx: EngineContext, serverId: number, directory: FileDirectory): Promise<FileSyncOutcome> {
  const server = await ctx.db.syncServer.findUniqueOrThrow({ where: { id: serverId } });
  const settings = await ctx.settings();
  const client = ctx.peerClient(server, settings);
  const root = directoryRoot(ctx.dataDir, directory);
  // Both sides bring their manifests up to date with their disks at the same time.
  const [local, remote, baseRows, agreedElsewhere] = await Promise.all([
    scanDirectory(ctx.pool, ctx.dataDir, directory, { exclude: ctx.fileExclude }).then(() => manifestMap(ctx.pool, directory)),
    remoteManifest(client, directory),
    ctx.db.fileSyncState.findMany({ where: { serverId, directory } }),
    ctx.db.fileSyncState.findMany({ where: { directory, serverId: { not: serverId }, sha256: { not: null } }, orderBy: { updatedAt: 'asc' } }),
  ]);
  const base = new Map(baseRows.map((b) => [b.path, b.sha256]));
  // What this node last agreed on with any other peer (the newest agreement wins).
  const elsewhere = new Map(agreedElsewhere.map((b) => [b.path, b.sha256]));
  /**
   * The base for a path. Never synced with this peer but present on both sides: a version this node
   * agreed on with another peer is not a local edit (a file received from a third node and unchanged
   * since must not turn into a conflict). A path missing on one side keeps the first sync's union.
   */
  const baseOf = (file: string, localSha: string | null, remoteSha: string | null): string | null | undefined => {
    if (base.has(file)) return base.get(file);
    return localSha !== null && remoteSha !== null ? elsewhere.get(file) : undefined;
  };
  const outcome: FileSyncOutcome = { directory, uploaded: 0, downloaded: 0, deleted: 0, conflicts: 0, bytes: 0, errors: [] };
  // Agreed states are written in bulk: once per 200 files and at the end.
  let settled: { path: string; sha256: string | null }[] = [];
  const flushAgreed = async () => {
    if (!settled.length) return;
    const batch = settled;
    settled = [];
    await ctx.pool.query(
      `INSERT INTO file_sync_state (server_id, directory, path, sha256, updated_at)
       SELECT $1, $2, x.path, x.sha256, now() FROM unnest($3::text[], $4::text[]) AS x(path, sha256)
       ON CONFLICT (server_id, directory, path) DO UPDATE SET sha256 = EXCLUDED.sha256, updated_at = now()`,
      [serverId, directory, batch.map((b) => b.path), batch.map((b) => b.sha256)],
    );
  };
  const agreed = async (file: string, sha256: string | null) => {
    settled.push({ path: file, sha256 });
    if (settled.length >= 200) await flushAgreed();
  };
  /** What to announce for a local file: the manifest's checksum while its size and mtime still hold. */
  const describeLocal = async (localPath: string): Promise<BundleEntry> => {
    const full = path.join(root, localPath);
    const info = await stat(full);
    const entry = local.get(localPath);
    const known = entry && !entry.deleted && entry.size === info.size && entry.mtimeMs === Math.floor(info.mtimeMs);
    return { file: localPath, sha256: known ? entry.sha256 : await sha256File(full), size: info.size, mtimeMs: info.mtimeMs };
  };
  /** What a path of the peer held when the decision was made (its manifest entry). */
  const comparedThere = (remotePath: string): ComparedState => {
    const entry = remote.get(remotePath);
    return entry && !entry.deleted ? { size: entry.size, mtimeMs: Date.parse(entry.mtime) } : 'absent';
  };
  const upload = async (localPath: string, remotePath: string, replaces?: ComparedState) => {
    const described = await describeLocal(localPath);
    await client.uploadFile(directory, remotePath, createReadStream(path.join(root, localPath)), replaces ? { ...described, replaces } : described);
    outcome.bytes += described.size;
    return described.sha256;
  };
  /** What a local path held when the decision was made (its manifest entry after the scan). */
  const comparedHere = (localPath: string): ComparedState => {
    const entry = local.get(localPath);
    return entry && !entry.deleted ? { size: entry.size, mtimeMs: entry.mtimeMs } : 'absent';
  };
  /**
   * `expected`: the sha256 the decision was made on; content that changed since is refused, not kept.
   * `replaces`: what the local path held then; a local file written since is not replaced.
   */
  const download = async (remotePath: string, localPath: string, expected?: string, replaces?: ComparedState) => {
    const file = await client.downloadFile(directory, remotePath);
    try {
      await writeVerified(root, localPath, file.stream, { ...file, sha256: expected ?? file.sha256 }, replaces ? { replaces } : {});
    } catch (err) {
      file.stream.destroy(); // refused before it was read (a folder there, say): the connection is not left open
      throw err;
    }
    await recordFile(ctx.pool, directory, localPath, file);
    outcome.bytes += file.size;
    return file.sha256;
  };

  // A name that is a file on one side and a folder on the other is left alone on both (and reported):
  // neither can replace the other, and trying would fail at every sync.
  const clashes = fileFolderClashes(
    [...local].filter(([, f]) => !f.deleted).map(([file]) => file),
    [...remote.values()].filter((f) => !f.deleted).map((f) => f.path),
  );
  for (const [name, clash] of [...clashes].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const sides = clash === 'file here' ? `a file here and a folder on ${server.name}` : `a folder here and a file on ${server.name}`;
    outcome.errors.push(`${directory}/${name}: ${sides}; both left as they are`);
  }
  const paths = [...new Set([...local.keys(), ...remote.keys()])].filter((file) => !clashCovering(file, clashes)).sort();
  const decisions = paths.map((file) => {
    const l = local.get(file);
    const r = remote.get(file);
    const localSide: Side = { sha256: l && !l.deleted ? l.sha256 : null, mtimeMs: l?.mtimeMs ?? 0, size: l?.size ?? 0 };
    const remoteSide: Side = { sha256: r && !r.deleted ? r.sha256 : null, mtimeMs: r ? Date.parse(r.mtime) : 0, size: r?.size ?? 0 };
    const fileBase = baseOf(file, localSide.sha256, remoteSide.sha256);
    const action = decide(localSide, remoteSide, fileBase, ctx.nodeName, server.name, !base.has(file) && fileBase !== undefined);
    return { file, localSide, remoteSide, action };
  });
  // Small files going up travel in bundles; everything else one by one.
  const small = decisions.filter((d) => d.action.kind === 'upload' && d.localSide.size <= SMALL_FILE_BYTES);
  const bundled = new Set(small);
  const single = decisions.filter((d) => !bundled.has(d));
  const uploadEach = async (files: string[]) => {
    for (const file of files) {
      try {
        await agreed(file, await upload(file, file, comparedThere(file)));
        outcome.uploaded++;
      } catch (err) {
        outcome.errors.push(`${directory}/${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  const uploadBundle = async (files: typeof small) => {
    const found = await Promise.all(
      files.map((d) =>
        describeLocal(d.file).then((entry): BundleEntry => ({ ...entry, replaces: comparedThere(d.file) })).catch((err: unknown) => {
          outcome.errors.push(`${directory}/${d.file}: ${err instanceof Error ? err.message : String(err)}`);
          return null;
        }),
      ),
    );
    const entries = found.filter((e): e is BundleEntry => e !== null);
    if (!entries.length) return;
    const { body, length } = encodeBundle(entries, (e) => createReadStream(path.join(root, e.file)));
    try {
      await client.uploadBundle(directory, body, length);
    } catch (err) {
      // The peer refused the bundle for one of its files (a folder where it goes, say): each goes on its
      // own, so that the others still arrive and the refused one is named.
      if (err instanceof PeerError && err.kind === 'rejected' && entries.length > 1) return uploadEach(entries.map((e) => e.file));
      const reason = err instanceof Error ? err.message : String(err);
      for (const e of entries) outcome.errors.push(`${directory}/${e.file}: ${reason}`);
      return;
    }
    for (const e of entries) {
      await agreed(e.file, e.sha256);
      outcome.uploaded++;
      outcome.bytes += e.size;
    }
  };
  type Work = { bundle: typeof small } | (typeof decisions)[number];
  const work: Work[] = [...groupBundles(small, (d) => d.localSide.size).map((bundle) => ({ bundle })), ...single];
  await inParallel(work, CONCURRENCY, async (item) => {
    if ('bundle' in item) return uploadBundle(item.bundle);
    const { file, localSide, remoteSide, action } = item;
    try {
      switch (action.kind) {
        case 'none':
          if (base.get(file) !== localSide.sha256) await agreed(file, localSide.sha256);
          return;
        case 'upload':
          await agreed(file, await upload(file, file, comparedThere(file)));
          outcome.uploaded++;
          return;
        case 'download':
          await agreed(file, await download(file, file, undefined, comparedHere(file)));
          outcome.downloaded++;
          return;
        case 'delete-remote':
          await client.deleteFile(directory, file, comparedThere(file));
          await agreed(file, null);
          outcome.deleted++;
          return;
        case 'delete-local':
          await removeFile(root, file, comparedHere(file));
          await recordDeletion(ctx.pool, directory, file);
          await agreed(file, null);
          outcome.deleted++;
          return;
        case 'conflict': {
          // The copy is named after the losing version's modification time (not the clock): two nodes
          // resolving the same conflict at once (each catching the other up) then keep one copy, not two.
          if (action.winner === 'local') {
            // Keep the peer's version beside ours on both sides, then give the peer ours.
            const copy = conflictCopyName(file, new Date(remoteSide.mtimeMs), remoteSide.sha256!);
            // The peer's version as it was when compared: if the peer replaced it meanwhile (say, settling
            // the same conflict the other way at the same time), the copy would keep the wrong version.
            const copySha = await download(file, copy, remoteSide.sha256 ?? undefined);
            await upload(copy, copy);
            await agreed(copy, copySha);
            await agreed(file, await upload(file, file, comparedThere(file)));
          } else {
            const copy = conflictCopyName(file, new Date(localSide.mtimeMs), localSide.sha256!);
            await copyFile(await confinePath(root, file), await confinePath(root, copy));
            const copySha = await upload(copy, copy);
            await recordFile(ctx.pool, directory, copy, { sha256: copySha, size: localSide.size, mtimeMs: Date.now() });
            await agreed(copy, copySha);
            await agreed(file, await download(file, file, undefined, comparedHere(file)));
          }
          outcome.conflicts++;
          return;
        }
      }
    } catch (err) {
      outcome.errors.push(`${directory}/${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  await flushAgreed();
  return outcome;
}

/** Failed files named in one failure message: enough to act on, short enough for a log line. */
export const NAMED_FAILURES = 10;

/** A folder's failed files as one message, each named with its reason (the first NAMED_FAILURES, then how many more). */
export function failureSummary(directory: FileDirectory, errors: string[]): string {
  const named = errors.slice(0, NAMED_FAILURES).join('; ');
  const more = errors.length > NAMED_FAILURES ? `; and ${errors.length - NAMED_FAILURES} more` : '';
  return `file-sync ${directory}: ${errors.length} file(s) failed: ${named}${more}`;
}

/** The folders a peer's flags ask to sync. */
export function enabledDirectories(server: { syncInstanceFiles: boolean; syncConfigFiles: boolean; syncUploads: boolean }): FileDirectory[] {
  return [
    ...(server.syncInstanceFiles ? (['instance'] as const) : []),
    ...(server.syncConfigFiles ? (['config'] as const) : []),
    ...(server.syncUploads ? (['uploads'] as const) : []),
  ];
}
