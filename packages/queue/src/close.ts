// Closing a node's BullMQ workers, queues and queue events without ever waiting on an absent Redis.
import type { Queue, QueueEvents, Worker } from 'bullmq';
import { redisAnswers } from './connection.ts';

/**
 * While Redis answers, workers stop taking jobs and let running ones finish, and every connection quits
 * politely. When it does not, BullMQ's close would wait for Redis to come back (its QUIT waits in the
 * offline queue), so every connection is dropped at once instead: running jobs cannot record their
 * outcome anyway, and are handed back as stalled once their locks expire.
 */
export async function closeConnections(redisUrl: string, parts: { workers?: Worker[]; queues?: (Queue | QueueEvents)[] }): Promise<void> {
  const workers = parts.workers ?? [];
  const queues = parts.queues ?? [];
  if (!workers.length && !queues.length) return;
  if (await redisAnswers(redisUrl)) {
    await Promise.all([...workers.map((w) => w.close()), ...queues.map((q) => q.close())]);
    return;
  }
  await Promise.all([
    ...workers.map((w) => w.close(true)),
    ...queues.map(async (q) => {
      await q.getBackend().close(true);
      await q.close();
    }),
  ]);
}
