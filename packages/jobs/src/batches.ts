// The catch-up's children: one range sent, one range received, one folder synced.
import { failureSummary, receiveRange, sendRange, syncDirectory, type Range } from '@catchup/engine';
import type { Logger } from '@catchup/logger';
import type { Handlers, Job } from '@catchup/queue';
import type { HandlerDeps } from './deps.ts';
import { asJobError, message } from './job-errors.ts';

export function batchSendHandler({ engine, logger }: HandlerDeps): Handlers['batch-send'] {
  return (job) =>
    rangeJob(logger, 'batch-send', job, async () => {
      const out = await sendRange(engine, job.data.serverId, job.data.peerNodeId, job.data.range);
      logger.info({ server_id: job.data.serverId, job_id: job.id, sent: out.sent, range: out.range }, `📤 Sent ${out.sent} changes`);
      return out;
    });
}

export function batchReceiveHandler({ engine, logger }: HandlerDeps): Handlers['batch-receive'] {
  return (job) =>
    rangeJob(logger, 'batch-receive', job, async () => {
      const out = await receiveRange(engine, job.data.serverId, job.data.range);
      logger.info(
        { server_id: job.data.serverId, job_id: job.id, received: out.received, applied: out.applied, range: out.range },
        `📥 Received ${out.received} changes, applied ${out.applied}`,
      );
      return out;
    });
}

/** Runs the work of one range's job; a failure is logged and becomes the job's error, naming the range. */
async function rangeJob<T>(
  logger: Logger,
  name: 'batch-send' | 'batch-receive',
  job: Job<{ serverId: number; range: Range }>,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const { from, to } = job.data.range;
    logger.warn(
      { server_id: job.data.serverId, job_id: job.id, attempt: job.attemptsMade + 1, error: message(err) },
      `❌ ${name} (${from}, ${to}] failed: ${message(err)}`,
    );
    throw asJobError(err, `${name} (${from}, ${to}]`);
  }
}

export function fileSyncHandler({ engine, logger }: HandlerDeps): Handlers['file-sync'] {
  return async (job) => {
    const { serverId, directory, scannedSince } = job.data;
    const detection = scannedSince === undefined ? undefined : { scannedSince, attempt: job.attemptsMade };
    const { errors, ...moved } = await syncDirectory(engine, serverId, directory, detection);
    logger.info(
      {
        server_id: serverId,
        job_id: job.id,
        directory,
        uploaded: moved.uploaded,
        downloaded: moved.downloaded,
        deleted: moved.deleted,
        conflicts: moved.conflicts,
      },
      `📁 ${directory}: ${moved.uploaded} uploaded, ${moved.downloaded} downloaded, ${moved.deleted} deleted, ${moved.conflicts} conflicts`,
    );
    if (errors.length) {
      // What moved is settled (the base remembers it); the retry redoes only the rest.
      logger.warn({ server_id: serverId, directory, errors }, `❌ file-sync ${directory}: ${errors.length} file(s) failed`);
      throw new Error(failureSummary(directory, errors));
    }
    return moved;
  };
}
