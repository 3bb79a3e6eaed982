// File catch-up of one folder with one peer (F2–F4): read both manifests and the bases agreed at the
// last syncs, plan what changed (files-plan.ts), carry it out in both directions (files-transfer.ts), and
// record what both sides now agree on.
import {
  AgreedBase,
  directoryRoot,
  manifestMap,
  readBase,
  readBasesElsewhere,
  scanDirectory,
  scanDirectoryUnlessScannedSince,
  type Clash,
  type FileDirectory,
  type Manifest,
} from '@catchup/files';
import type { SyncServer } from '@catchup/db';
import type { PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';
import { planDirectory, type FilePlan } from './files-plan.ts';
import { FolderTransfer, readRemoteManifest, type FileSyncOutcome } from './files-transfer.ts';

export type { FileSyncOutcome } from './files-transfer.ts';

/**
 * A name that is a file on one side and a folder on the other is left alone on both and reported at
 * every sync: neither can replace the other.
 */
function clashError(directory: FileDirectory, name: string, clash: Clash, peerName: string): string {
  const sides = clash === 'file here' ? `a file here and a folder on ${peerName}` : `a folder here and a file on ${peerName}`;
  return `${directory}/${name}: ${sides}; both left as they are`;
}

/**
 * How long a folder's sync builds on the scan of the detection that decided it instead of scanning the
 * folder again. Beyond that (a catch-up whose database batches took long) the folder is scanned again.
 */
export const DETECTION_SCAN_STANDS_MS = 10_000;

/** A folder sync decided by a detection: when that detection began scanning (ms since 1970), and which attempt this is (0: the first). */
export interface DetectionScan {
  scannedSince: number;
  attempt: number;
}

/**
 * Since when a scan of our folder stands for this sync (ms since 1970), or undefined: scan now. The
 * detection's scan stands for the first attempt while it is recent. A retry scans again: the first
 * attempt may have failed on a file written after that scan (a step moves a file only while it is as
 * compared), and the same scan would fail it again.
 */
export function scanStandsSince(detection: DetectionScan | undefined, now: number): number | undefined {
  if (detection === undefined || detection.attempt > 0) return undefined;
  return Math.max(detection.scannedSince, now - DETECTION_SCAN_STANDS_MS);
}

/** Our side's manifest, brought up to date with the disk (a scan begun at or after `since` stands). */
async function localManifest(ctx: EngineContext, directory: FileDirectory, since: number | undefined): Promise<Manifest> {
  const options = { exclude: ctx.fileExclude };
  if (since === undefined) await scanDirectory(ctx.pool, ctx.dataDir, directory, options);
  else await scanDirectoryUnlessScannedSince(ctx.pool, ctx.dataDir, directory, since, options);
  return manifestMap(ctx.pool, directory);
}

/** Reads both manifests and the bases, and plans the folder's sync (what a sync would do, done or not). */
export async function readFolderPlan(
  ctx: EngineContext,
  server: SyncServer,
  directory: FileDirectory,
  detection?: DetectionScan,
): Promise<{ plan: FilePlan; local: Manifest; client: PeerClient }> {
  const client = ctx.peerClient(server, await ctx.settings());
  // Both sides bring their manifests up to date with their disks at the same time.
  const [local, remote, base, agreedElsewhere] = await Promise.all([
    localManifest(ctx, directory, scanStandsSince(detection, Date.now())),
    readRemoteManifest(client, directory),
    readBase(ctx.pool, server.id, directory),
    readBasesElsewhere(ctx.pool, server.id, directory),
  ]);
  return { plan: planDirectory({ local, remote, base, agreedElsewhere, localName: ctx.nodeName, remoteName: server.name }), local, client };
}

/** Syncs one folder with one peer; `detection`: the sync is a catch-up's that a detection decided (see scanStandsSince). */
export async function syncDirectory(ctx: EngineContext, serverId: number, directory: FileDirectory, detection?: DetectionScan): Promise<FileSyncOutcome> {
  const server = await ctx.db.syncServer.findUniqueOrThrow({ where: { id: serverId } });
  const { plan, local, client } = await readFolderPlan(ctx, server, directory, detection);

  const errors = plan.clashes.map(({ name, clash }) => clashError(directory, name, clash, server.name));
  const outcome: FileSyncOutcome = { directory, uploaded: 0, downloaded: 0, deleted: 0, conflicts: 0, bytes: 0, errors };
  const agreed = new AgreedBase(ctx.pool, serverId, directory);
  const root = directoryRoot(ctx.dataDir, directory);
  await new FolderTransfer({ pool: ctx.pool, client, directory, root, local, agreed, outcome }).carryOut(plan.steps);
  await agreed.flush();
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

/**
 * The order a catch-up starts its folders in: uploads first, the folder that holds the most (photos),
 * so that the small ones fit in beside it rather than keep it waiting for a free slot.
 */
export function largestFolderFirst(directories: readonly FileDirectory[]): FileDirectory[] {
  return [...directories].sort((a, b) => Number(b === 'uploads') - Number(a === 'uploads'));
}

/** The folders a peer's flags ask to sync. */
export function enabledDirectories(server: { syncInstanceFiles: boolean; syncConfigFiles: boolean; syncUploads: boolean }): FileDirectory[] {
  return [
    ...(server.syncInstanceFiles ? (['instance'] as const) : []),
    ...(server.syncConfigFiles ? (['config'] as const) : []),
    ...(server.syncUploads ? (['uploads'] as const) : []),
  ];
}
