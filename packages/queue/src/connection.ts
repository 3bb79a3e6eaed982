import type { ConnectionOptions } from 'bullmq';

/** BullMQ connection options from REDIS_URL (workers need maxRetriesPerRequest: null). */
export function redisConnection(redisUrl: string): ConnectionOptions {
  return { url: redisUrl, maxRetriesPerRequest: null };
}
