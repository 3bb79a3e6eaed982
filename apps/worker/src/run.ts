// Starts the BullMQ workers of one node, in this process.
import { hostname } from 'node:os';
import type { NodeConfig } from '@catchup/config';
import type { EngineContext } from '@catchup/engine';
import { repeatedErrorLog, type Logger } from '@catchup/logger';
import { NodeQueues, startWorkers } from '@catchup/queue';
import { createHandlers } from './handlers.ts';

/** Faults the workers of this process rode out, per queue, since the process started (for /metrics). */
export interface JobFaults {
  /** Attempts that failed and were scheduled again (attempts beyond the first). */
  retried: Record<string, number>;
  /** Jobs found stalled (their worker died or lost its lock) and handed back to be run again. */
  stalled: Record<string, number>;
}

export interface RunningWorkers {
  queues: NodeQueues;
  faults(): JobFaults;
  close(): Promise<void>;
}

export function runWorkers(config: NodeConfig, engine: EngineContext, logger: Logger): RunningWorkers {
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
  const faults: JobFaults = { retried: {}, stalled: {} };
  const count = (of: Record<string, number>, queue: string) => (of[queue] = (of[queue] ?? 0) + 1);
  for (const worker of workers.workers) {
    worker.on('error', (err) => reportWorkerError(err, { queue: worker.name }));
    // Emitted for every failed attempt; one that is not finished will run again.
    worker.on('failed', (job) => {
      if (job && !job.finishedOn) count(faults.retried, worker.name);
    });
    worker.on('stalled', () => count(faults.stalled, worker.name));
  }
  return {
    queues,
    faults: () => faults,
    async close() {
      await workers.close();
      await queues.close();
    },
  };
}
