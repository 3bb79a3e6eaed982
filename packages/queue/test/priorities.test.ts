// Priorities on a real Redis: what an operator asked for is taken ahead of what the schedule started, and
// within a trigger's band batches of more urgent tables ahead of the rest.
import { Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { useQueuePrefix } from '@catchup/testing';
import { batchPriority, jobOptions, TRIGGER_PRIORITY } from '../src/options.ts';
import { NodeQueues } from '../src/queues.ts';
import { redisConnection } from '../src/connection.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = useQueuePrefix('prio');
const queues = new NodeQueues({ redisUrl, prefix });
afterAll(() => queues.close());

describe('priorities', () => {
  it('order the bands: every batch of a scan before any of the schedule, urgent tables first within a band', () => {
    expect(TRIGGER_PRIORITY.scan).toBeLessThan(TRIGGER_PRIORITY.schedule);
    expect(batchPriority('scan', 0)).toBeLessThan(batchPriority('scan', 1));
    expect(batchPriority('scan', 10_000)).toBeLessThan(batchPriority('schedule', 0));
    expect(jobOptions('batch-send', { attempts: 2, delayMs: 10 }, { priority: 7 }).priority).toBe(7);
    expect(jobOptions('batch-send', { attempts: 2, delayMs: 10 }).priority).toBeUndefined();
  });

  it('a worker takes an operator’s detection ahead of scheduled ones queued before it', async () => {
    const retry = { attempts: 1, delayMs: 0 };
    await queues.add('detect', { trigger: 'schedule' }, retry);
    await queues.add('detect', { trigger: 'schedule' }, retry);
    await queues.add('detect', { trigger: 'scan' }, retry);
    const order: string[] = [];
    const worker = new Worker(
      queues.queues.detect.name,
      async (job) => {
        order.push(job.data.trigger);
      },
      { connection: redisConnection(redisUrl), prefix, concurrency: 1 },
    );
    try {
      await new Promise<void>((resolve) => {
        worker.on('completed', () => {
          if (order.length === 3) resolve();
        });
      });
    } finally {
      await worker.close();
    }
    expect(order).toEqual(['scan', 'schedule', 'schedule']);
  });
});
