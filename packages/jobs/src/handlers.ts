// The handler of every job: the engine's steps, wired to BullMQ jobs, with a log line for each step.
import { pruneNode, type EngineContext } from '@catchup/engine';
import type { Logger } from '@catchup/logger';
import type { Handlers, NodeQueues } from '@catchup/queue';
import { batchReceiveHandler, batchSendHandler, fileSyncHandler } from './batches.ts';
import { catchupHandler } from './catchup.ts';
import type { HandlerDeps } from './deps.ts';
import { detectHandler } from './detect.ts';

export function createHandlers(engine: EngineContext, queues: NodeQueues, logger: Logger): Handlers {
  const deps: HandlerDeps = { engine, queues, logger };
  return {
    detect: detectHandler(deps),
    catchup: catchupHandler(deps),
    'batch-send': batchSendHandler(deps),
    'batch-receive': batchReceiveHandler(deps),
    'file-sync': fileSyncHandler(deps),
    prune: pruneHandler(deps),
  };
}

function pruneHandler({ engine, logger }: HandlerDeps): Handlers['prune'] {
  return async (job) => {
    const report = await pruneNode(engine);
    if (!report.ran) {
      logger.info({ job_id: job.id }, '🧹 Prune skipped: another prune is running');
      return report;
    }
    const r = report.removed;
    logger.info(
      { job_id: job.id, trigger: job.data.trigger, ...r, ...report.horizons, duration: report.duration },
      `🧹 Pruned ${r.change_log_entries} change-log entries, ${r.file_tombstones} file tombstones, ${r.sync_logs} sync logs older than ${report.before}`,
    );
    return report;
  };
}
