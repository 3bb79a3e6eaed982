// A node whose Redis is gone still stops on SIGTERM, promptly and with exit code 0: closing the queues
// and workers does not wait for a Redis that is not there, nor does a request that wanted to queue a job.
// Meanwhile its log says what is wrong without a line per attempt to reconnect.
import { describe, expect, it } from 'vitest';
import { usePrivateRedis, useTestDatabases } from '@catchup/testing';
import { startNodeProcess } from './node-process.ts';

const redis = await usePrivateRedis();
const [db] = await useTestDatabases(1, 'sigterm');
const node = await startNodeProcess('sigterm-a', {
  DATABASE_URL: db!.url,
  REDIS_URL: redis.url,
  QUEUE_PREFIX: 'sigterm-a',
  CATCHUP_CHECK_INTERVAL: '1',
});

describe('SIGTERM while Redis is down', () => {
  it('the node answers, logs each error once (not once per attempt to reconnect), and exits 0 within 8 s', async () => {
    // Running normally, with its detection scheduled every second.
    expect((await fetch(`${node.url}/ready`)).status).toBe(200);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1500));
    expect(node.alive(), node.output()).toBe(true);
    // An operator's scan arrives meanwhile (it cannot be queued while Redis is down).
    const scan = node.call('/api/sync/catchup/scan', {}).then(
      (r) => r.status,
      () => 0,
    );
    await new Promise((r) => setTimeout(r, 300));

    const { code, ms } = await node.stop('SIGTERM');
    expect({ code, within8s: ms < 8000 }, node.output().slice(-4000)).toEqual({ code: 0, within8s: true });
    // The scan was answered — 503: nothing can be queued while Redis is down — rather than left hanging.
    expect(await scan).toBe(503);
    // Its log stayed JSON lines, each error once rather than once per connection and attempt to reconnect.
    const lines = node.output().trim().split('\n');
    expect(
      lines.filter((line) => !line.startsWith('{')),
      node.output().slice(-2000),
    ).toEqual([]);
    expect(lines.length).toBeLessThan(10);
  }, 30_000);
});
