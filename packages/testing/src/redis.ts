// A Redis key prefix of its own for each test file, removed afterwards.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { testRedisUrl } from './services.ts';

export function uniqueQueuePrefix(label = 't'): string {
  return `test-${label}-${randomBytes(5).toString('hex')}`;
}

export async function deleteKeysWithPrefix(prefix: string): Promise<number> {
  const redis = new Redis(testRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A prefix for this test file; its keys are deleted after the file's last test. */
export function useQueuePrefix(label = 't'): string {
  const prefix = uniqueQueuePrefix(label);
  afterAll(async () => {
    await deleteKeysWithPrefix(prefix);
  });
  return prefix;
}
