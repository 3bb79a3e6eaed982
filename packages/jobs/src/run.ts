// Starts the BullMQ workers of one node, in this process.
import { hostname } from 'node:os';
import type { NodeConfig } from '@catchup/config';
import type { EngineContext } from '@catchup/engine';
import { repeatedErrorLog, type Logger } from '@catchup/logger';
import { NodeQueues, startWorkers, type FaultLedger } from '@catchup/queue';
import { createHandlers } from './handlers.ts';

export interface RunningWorkers {
  queues: NodeQueues;
  close(): Promise<void>;
}

/** Starts the workers; the job faults they ride out (retries, stalls) are counted in `faults`. */
export function runWorkers(config: NodeConfig, engine: EngineContext, logger: Logger, faults: FaultLedger): RunningWorkers {
  const reportQueueError = repeatedErrorLog(logger, 'queue error');
  const queues = new NodeQueues({ redisUrl: config.redisUrl, prefix: config.queuePrefix, onError: (err) => reportQueueError(err) });
  const workers = startWorkers(createHandlers(engine, queues, logger), {
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    workerName: `${config.nodeName}@${hostname()}:${process.pid}`,
    lockMs: config.jobLockSeconds * 1000,
    concurrency: {
      detect: 1,
      catchup: config.workerConcurrency,
      batchSend: config.workerConcurrency,
      batchReceive: config.workerConcurrency,
      fileSync: Math.max(1, Math.floor(config.workerConcurrency / 2)),
    },
  });
  // While Redis is away every connection reports each attempt to reconnect: one line per error and 30 s.
  const reportWorkerError = repeatedErrorLog(logger, 'worker error');
  for (const worker of workers.workers) {
    worker.on('error', (err) => reportWorkerError(err, { queue: worker.name }));
    // Emitted for every failed attempt; one that is not finished will run again.
    worker.on('failed', (job) => {
      if (job && !job.finishedOn) faults.record('job_retried', worker.name);
    });
    worker.on('stalled', () => faults.record('job_stalled', worker.name));
  }
  return {
    queues,
    async close() {
      await workers.close();
      await queues.close();
    },
  };
}
