// One catch-up of one peer as a parent job: plan, fan out one child per range of the database, then —
// once those are done — one per folder, and finally finalize from all their results. Database batches
// go first: on a slow link the scouting rows should not wait behind a folder of photos. The job runs again
// after each wait for its children; `step` in its data says how far it got, so that no step runs twice.
import { enabledDirectories, finalizeCatchup, largestFolderFirst, pingPeer, planCatchup, type CatchupPlan } from '@catchup/engine';
import { latestFileSeq, type FileDirectory } from '@catchup/files';
import {
  batchPriority,
  readChildren,
  TRIGGER_PRIORITY,
  UnrecoverableError,
  waitForChildren,
  type CatchupJobData,
  type Handlers,
  type Job,
} from '@catchup/queue';
import { retryPolicy, type HandlerDeps } from './deps.ts';

type CatchupJob = Job<CatchupJobData>;

/** What the children are to do: the plan of the database ranges and the folders to sync. */
interface Planned {
  plan: CatchupPlan;
  directories: FileDirectory[];
}

export function catchupHandler(deps: HandlerDeps): Handlers['catchup'] {
  return async (job, token) => {
    if (job.data.step === undefined || job.data.step === 'plan') {
      const planned = await plan(deps, job);
      if (planned && (await fanOutDatabase(deps, job, planned)) > 0) await waitForChildren(job, token);
    }
    if (job.data.step === 'files') {
      // The database batches first: a run taken back after a crash may find some still going.
      await waitForChildren(job, token);
      await fanOutFolders(deps, job);
    }
    // Handed back before its children were done (its worker died and the job was taken back as stalled).
    await waitForChildren(job, token);
    return finalize(deps, job);
  };
}

/**
 * Pings the peer and plans the run. The job's data then says it has planned (with what finalizing
 * needs) before any child exists: whatever happens next, this job only finalizes. Undefined when the
 * peer gave no usable answer (the run finalizes with that error).
 */
async function plan({ engine, logger }: HandlerDeps, job: CatchupJob): Promise<Planned | undefined> {
  const startedAt = new Date().toISOString();
  const server = await engine.db.syncServer.findUnique({ where: { id: job.data.serverId } });
  if (!server) throw new UnrecoverableError(`sync server ${job.data.serverId} no longer exists`);
  logger.info({ server: server.name, job_id: job.id }, `🚀 Starting catch-up sync for ${server.name}`);
  logger.info(
    { server: server.name, since: server.lastSync?.toISOString() ?? null },
    `📅 Catch-up period: since ${server.lastSync?.toISOString() ?? 'the beginning'}`,
  );
  const ping = await pingPeer(engine, server);
  if (!ping.ok) {
    await job.updateData({ ...job.data, step: 'finalize', startedAt, planErrors: [ping.reason] });
    return undefined;
  }
  const planned = await planCatchup(engine, server, ping.ping);
  logger.info(
    { server: server.name, missing_changes: planned.missingChanges, send_batches: planned.send.length, receive_ranges: planned.receive.length },
    `🗄️ Database: ${planned.missingChanges} changes to send in ${planned.send.length} batches, ${planned.receive.length} ranges to receive`,
  );
  if (planned.fullBaseline.send || planned.fullBaseline.receive) {
    const directions = [
      ...(planned.fullBaseline.send ? [`${server.name} is behind this node's pruned log`] : []),
      ...(planned.fullBaseline.receive ? [`this node is behind ${server.name}'s pruned log`] : []),
    ];
    logger.warn(
      { server: server.name, full_baseline: planned.fullBaseline },
      `🧱 Full baseline: ${directions.join('; ')} — sending the standing version of every row instead of every change`,
    );
  }
  const directories = enabledDirectories(server);
  let fileSeqs = {};
  if (directories.length) {
    fileSeqs = { fileSeqLocal: await latestFileSeq(engine.pool), fileSeqPeer: ping.ping.latest_file_seq };
    logger.info({ server: server.name, directories }, `📁 Files: syncing ${directories.join(', ')}`);
  }
  await job.updateData({
    ...job.data,
    step: directories.length ? 'files' : 'finalize',
    directories,
    startedAt,
    planErrors: [],
    ...fileSeqs,
    fullBaseline: planned.fullBaseline,
  });
  return { plan: planned, directories };
}

/**
 * Adds a child per range to send and range to receive; returns how many. Batches of an operator's scan go
 * ahead of the schedule's, and batches holding changes of more urgent tables (table_priorities) ahead of
 * the rest; ranges received hold the peer's tables, which are not known here: they come after.
 */
async function fanOutDatabase({ engine, queues }: HandlerDeps, job: CatchupJob, { plan }: Planned): Promise<number> {
  const { serverId, trigger } = job.data;
  const retry = await retryPolicy(engine);
  const sends = await queues.addChildren(
    'batch-send',
    plan.send.map((range) => ({ serverId, peerNodeId: plan.peerNodeId, range })),
    retry,
    job,
    { priorityOf: (i) => batchPriority(trigger, plan.sendRanks[i] ?? 0) },
  );
  const lastRank = Math.max(0, ...plan.sendRanks);
  const receives = await queues.addChildren(
    'batch-receive',
    plan.receive.map((range) => ({ serverId, range })),
    retry,
    job,
    { priorityOf: () => batchPriority(trigger, lastRank) },
  );
  return sends.length + receives.length;
}

/**
 * Adds a child per folder to sync, once the database batches are done, then waits for them. Each child's
 * id is fixed by the run and its folder: a run taken back after a crash between adding them and noting
 * it adds none twice.
 */
async function fanOutFolders({ engine, queues }: HandlerDeps, job: CatchupJob): Promise<void> {
  const { serverId, trigger, directories = [], filesScannedAt } = job.data;
  await queues.addChildren(
    'file-sync',
    largestFolderFirst(directories).map((directory) => ({ serverId, directory, ...(filesScannedAt === undefined ? {} : { scannedSince: filesScannedAt }) })),
    await retryPolicy(engine),
    job,
    { priorityOf: () => TRIGGER_PRIORITY[trigger], jobIdOf: ({ directory }) => `${job.id}-files-${directory}` },
  );
  await job.updateData({ ...job.data, step: 'finalize' });
}

/** Records the run from its children's results and failures (the engine sums them) and logs it. */
async function finalize({ engine, logger }: HandlerDeps, job: CatchupJob) {
  const { results, failures } = await readChildren('catchup', job);
  const { 'batch-send': sends, 'batch-receive': receives, 'file-sync': files, ...unread } = results;
  everyChildKindRead(unread);
  const errors = [...(job.data.planErrors ?? []), ...Object.values<string[]>(failures).flat()];
  // The file positions are remembered only when every folder synced: detection compares against them.
  const filesSynced = job.data.fileSeqLocal !== undefined && failures['file-sync'].length === 0;
  const result = await finalizeCatchup(engine, {
    serverId: job.data.serverId,
    startedAt: new Date(job.data.startedAt ?? Date.now()),
    sends,
    receives,
    files,
    ...(filesSynced ? { fileSeqs: { local: job.data.fileSeqLocal!, peer: job.data.fileSeqPeer ?? '0', directories: job.data.directories ?? [] } } : {}),
    ...(job.data.fullBaseline ? { fullBaseline: job.data.fullBaseline } : {}),
    errors,
  });
  const fields = { server: result.server_name, job_id: job.id, duration: result.duration, mode: result.mode, ...result.database_changes };
  if (result.success) {
    const db = result.database_changes;
    logger.info(
      fields,
      `✅ Catch-up sync completed for ${result.server_name}: sent ${db.sent}, received ${db.received}, applied ${db.applied} in ${result.duration.toFixed(1)}s`,
    );
  } else {
    logger.error({ ...fields, errors }, `❌ Catch-up sync for ${result.server_name} finished with ${errors.length} error(s): ${errors[0]}`);
  }
  return result;
}

/** A child job name added to the catch-up's children but not finalized fails to compile here. */
function everyChildKindRead(unread: Record<string, never>): void {
  void unread;
}
