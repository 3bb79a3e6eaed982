import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';

/** BullMQ connection options from REDIS_URL for workers and queue events (maxRetriesPerRequest: null, as they need). */
export function redisConnection(redisUrl: string): ConnectionOptions {
  return { url: redisUrl, maxRetriesPerRequest: null };
}

/**
 * Connection options of a queue (adding and reading jobs): while Redis is down its commands fail at once
 * instead of waiting for Redis to come back, so that a request or a job that adds jobs gets an error it
 * can report, and nothing holds up a shutdown.
 */
export function queueConnection(redisUrl: string): ConnectionOptions {
  return { url: redisUrl, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
}

/** Whether Redis answers a PING within `timeoutMs`, on a connection of its own that never retries. */
export async function redisAnswers(redisUrl: string, timeoutMs = 1000): Promise<boolean> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
