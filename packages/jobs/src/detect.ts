// Detection: which peers need a catch-up now; one catch-up job is added for each.
import {
  checkClaimsOfPeer,
  enabledDirectories,
  measurePeers,
  peerFilesChanged,
  peerHasChangesForUs,
  pingPeer,
  recordRefusal,
  resumeTableBaselines,
  type EngineContext,
  type PeerNeed,
} from '@catchup/engine';
import { FILE_DIRECTORIES, latestFileSeq, scanDirectory } from '@catchup/files';
import type { DetectJobData, DetectJobResult, Handlers } from '@catchup/queue';
import { retryPolicy, type HandlerDeps } from './deps.ts';
import { message } from './job-errors.ts';

type PeerDetected = DetectJobResult['peers'][number];

export function detectHandler(deps: HandlerDeps): Handlers['detect'] {
  const { engine, logger } = deps;
  return async (job) => {
    await finishInterruptedBaselines(deps);
    const settings = await engine.settings();
    if (!settings.catchup_enabled) return { skipped: 'catchup_enabled is false', peers: [] };
    logger.info({ job_id: job.id, trigger: job.data.trigger }, '🔍 Checking for servers that need catch-up');
    // The folders are scanned while the peers are measured and pinged: over a slow link a ping is a round
    // trip that need not wait for the disk.
    const scan = { startedAt: Date.now(), latestSeq: scanFolders(deps) };
    scan.latestSeq.catch(() => {}); // awaited below, after the peers that did not need it
    const peers: PeerDetected[] = [];
    for (const need of await measurePeers(engine, job.data.serverIds)) peers.push(await detectPeer(deps, need, scan, job.data.trigger));
    await scan.latestSeq;
    return { peers };
  };
}

/** Brings every folder's manifest up to date with the disk; the newest file change sequence after. */
async function scanFolders({ engine }: HandlerDeps): Promise<bigint> {
  for (const directory of FILE_DIRECTORIES) await scanDirectory(engine.pool, engine.dataDir, directory, { exclude: engine.fileExclude });
  return BigInt(await latestFileSeq(engine.pool));
}

/**
 * Every detection first finishes table baselines a stopped process left pending (the log then holds
 * every row of every synced table); a failure is logged and retried by the next detection.
 */
async function finishInterruptedBaselines({ engine, logger }: HandlerDeps): Promise<void> {
  try {
    for (const { table, rowsLogged } of await resumeTableBaselines(engine)) {
      logger.info({ table, baseline_rows: rowsLogged }, `🧾 Finished the interrupted baseline of ${table}: ${rowsLogged} existing row(s) logged`);
    }
  } catch (err) {
    logger.warn({ error: message(err) }, `❌ Could not finish an interrupted table baseline: ${message(err)}`);
  }
}

/** Whether either side holds file changes the other lacks (the peer's folders are scanned only when ours did not say so already). */
async function filesChanged(engine: EngineContext, server: PeerNeed['server'], localFileSeq: Promise<bigint>, peerLatest: string): Promise<boolean> {
  const directories = enabledDirectories(server);
  if (!directories.length) return false;
  return (await localFileSeq) > server.fileSeqLocal || (await peerFilesChanged(engine, server, directories, peerLatest));
}

/** This detection's scan of the folders: when it began, and the newest file change sequence after it. */
interface FolderScan {
  startedAt: number;
  latestSeq: Promise<bigint>;
}

/**
 * Pings one peer and adds its catch-up when either side has changes or files the other lacks. The
 * catch-up's folder syncs build on this detection's scan (filesScannedAt) rather than walk the folders again.
 */
async function detectPeer(
  { engine, queues, logger }: HandlerDeps,
  { server, missingChanges }: PeerNeed,
  scan: FolderScan,
  trigger: DetectJobData['trigger'],
): Promise<PeerDetected> {
  const ping = await pingPeer(engine, server);
  if (!ping.ok) {
    if (ping.answered) {
      await recordRefusal(engine, server, ping.reason);
      logger.warn({ server: server.name, error: ping.reason }, `❌ ${server.name} is not caught up with: ${ping.reason}`);
    } else {
      logger.warn({ server: server.name, error: ping.reason }, `❌ ${server.name} is not reachable: ${ping.reason}`);
    }
    return { server_id: server.id, server_name: server.name, missing_changes: missingChanges, reachable: false, error: ping.reason };
  }
  const unmade = await checkClaimsOfPeer(engine, server, ping.ping.node_id, ping.ping.latest_sequence);
  if (unmade) logger.error({ server: server.name, alert: unmade }, `❌ Integrity alert: ${unmade}`);
  const peerHasMore = await peerHasChangesForUs(engine, server, ping.ping.latest_sequence);
  if (missingChanges === 0 && !peerHasMore && !(await filesChanged(engine, server, scan.latestSeq, ping.ping.latest_file_seq))) {
    return { server_id: server.id, server_name: server.name, missing_changes: 0, reachable: true };
  }
  logger.info({ server: server.name, missing_changes: missingChanges }, `📊 ${server.name} is missing ${missingChanges} changes`);
  logger.info({ server: server.name }, `✅ ${server.name} is available for catch-up`);
  const catchup = await queues.add('catchup', { serverId: server.id, trigger, filesScannedAt: scan.startedAt }, await retryPolicy(engine), {
    serverId: server.id,
  });
  return { server_id: server.id, server_name: server.name, missing_changes: missingChanges, reachable: true, catchup_job_id: catchup.id! };
}
