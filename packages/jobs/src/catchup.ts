// One catch-up of one peer as a parent job: plan, fan out one child per range and folder, and — once
// the children are done — finalize from their results. The job runs again after waiting for its
// children; `step` in its data says it has planned, so that run only finalizes.
import { enabledDirectories, finalizeCatchup, pingPeer, planCatchup, type CatchupPlan } from '@catchup/engine';
import { latestFileSeq, type FileDirectory } from '@catchup/files';
import { readChildren, UnrecoverableError, waitForChildren, type CatchupJobData, type Handlers, type Job } from '@catchup/queue';
import { retryPolicy, type HandlerDeps } from './deps.ts';

type CatchupJob = Job<CatchupJobData>;

/** What the children are to do: the plan of the database ranges and the folders to sync. */
interface Planned {
  plan: CatchupPlan;
  directories: FileDirectory[];
}

export function catchupHandler(deps: HandlerDeps): Handlers['catchup'] {
  return async (job, token) => {
    if (job.data.step !== 'finalize') {
      const planned = await plan(deps, job);
      if (planned && (await fanOut(deps, job, planned)) > 0) await waitForChildren(job, token);
    } else {
      // Handed back before its children were done (its worker died and the job was taken back as stalled).
      await waitForChildren(job, token);
    }
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
  await job.updateData({ ...job.data, step: 'finalize', startedAt, planErrors: [], ...fileSeqs, fullBaseline: planned.fullBaseline });
  return { plan: planned, directories };
}

/** Adds a child per range to send, range to receive and folder to sync; returns how many. */
async function fanOut({ engine, queues }: HandlerDeps, job: CatchupJob, { plan, directories }: Planned): Promise<number> {
  const { serverId } = job.data;
  const retry = await retryPolicy(engine);
  const sends = await queues.addChildren(
    'batch-send',
    plan.send.map((range) => ({ serverId, peerNodeId: plan.peerNodeId, range })),
    retry,
    job,
  );
  const receives = await queues.addChildren(
    'batch-receive',
    plan.receive.map((range) => ({ serverId, range })),
    retry,
    job,
  );
  const files = await queues.addChildren(
    'file-sync',
    directories.map((directory) => ({ serverId, directory })),
    retry,
    job,
  );
  return sends.length + receives.length + files.length;
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
    ...(filesSynced ? { fileSeqs: { local: job.data.fileSeqLocal!, peer: job.data.fileSeqPeer ?? '0' } } : {}),
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
