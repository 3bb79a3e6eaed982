// SPEC I14: schedulers come back by themselves. The detection job scheduler lives only in Redis; a node
// whose Redis comes back empty (a restart without persistence, a FLUSHALL) puts it back within seconds,
// and says on /ready that it is missing until then.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNodeConfig } from '@catchup/config';
import { usePrivateRedis, useTestDatabases } from '@catchup/testing';
import { startNode, type RunningNode, type StartOptions } from '../../src/node.ts';
import { until } from '../two-nodes.ts';

const [db1, db2, db3] = await useTestDatabases(3, 'redisempty');
const [redis1, redis2, redis3] = [await usePrivateRedis(), await usePrivateRedis(), await usePrivateRedis()];
const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-redis-emptied-'));
const nodes: RunningNode[] = [];
afterAll(async () => {
  for (const node of nodes) await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function nodeOn(name: string, databaseUrl: string, redisUrl: string, env: Record<string, string>, options: StartOptions = {}) {
  const node = await startNode(
    loadNodeConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      NODE_NAME: name,
      SYNC_API_KEY: `${name}-key-0123456789abcdef`,
      LOG_LEVEL: 'silent',
      QUEUE_PREFIX: name,
      DATA_DIR: path.join(dataDir, name),
      CATCHUP_SCHEDULER_ENABLED: 'true',
      CATCHUP_CHECK_INTERVAL: '1',
      ...env,
    }),
    options,
  );
  nodes.push(node);
  return node;
}

const ready = async (node: RunningNode) => {
  const res = await fetch(`${node.url}/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const metricsOf = async (node: RunningNode) => {
  const res = await fetch(`${node.url}/metrics`);
  return { status: res.status, text: await res.text() };
};

describe('a Redis that comes back empty', () => {
  it('after a restart without persistence, the detection scheduler is back within seconds and detection runs on schedule again', async () => {
    const redis = redis1;
    const node = await nodeOn('emptied-restart', db1!.url, redis.url, {});
    expect(await node.ctx.queues.detectionSchedule()).toEqual({ every: 1000 });

    await redis.kill();
    // /metrics still answers while Redis is away, saying which dependency it could not read.
    const during = await metricsOf(node);
    expect(during.status).toBe(200);
    expect(during.text).toMatch(/^catchup_dependency_up\{dependency="redis"\} 0$/m);
    expect(during.text).toMatch(/^catchup_dependency_up\{dependency="postgres"\} 1$/m);
    await redis.start();
    const back = Date.now();
    await until('the detection scheduler to be back', async () => (await node.ctx.queues.detectionSchedule().catch(() => null)) !== null, 10_000);
    expect(await node.ctx.queues.detectionSchedule()).toEqual({ every: 1000 });
    // Scheduled detection runs again in the new Redis (every second).
    await until('a scheduled detection to complete', async () => (await node.ctx.queues.queues.detect.getCompletedCount().catch(() => 0)) > 0, 10_000);
    expect(Date.now() - back).toBeLessThan(10_000);
    expect(await ready(node)).toEqual({ status: 200, body: { status: 'ready', postgres: true, redis: true, detection_scheduler: 'present' } });
    // The reconnection is counted as a fault survived.
    await until('the reconnection to be counted', async () => /^catchup_redis_reconnects_total [1-9]/m.test((await metricsOf(node)).text), 10_000);
    expect((await metricsOf(node)).text).toMatch(/^catchup_dependency_up\{dependency="redis"\} 1$/m);
  }, 30_000);

  it('after a FLUSHALL, /ready answers 503 naming the missing scheduler until it is back', async () => {
    const redis = redis2;
    // This node checks its scheduler only once an hour, so that the test sees the gap.
    const node = await nodeOn('emptied-flush', db2!.url, redis.url, { RUN_WORKERS: 'false' }, { scheduleCheckMs: 3_600_000 });
    expect((await ready(node)).status).toBe(200);

    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    expect(await ready(node)).toEqual({ status: 503, body: { status: 'not ready', postgres: true, redis: true, detection_scheduler: 'missing' } });

    await node.ctx.reschedule();
    expect(await ready(node)).toEqual({ status: 200, body: { status: 'ready', postgres: true, redis: true, detection_scheduler: 'present' } });
  });

  it('after a FLUSHALL, the periodic check puts the scheduler back', async () => {
    const redis = redis3;
    const node = await nodeOn('emptied-check', db3!.url, redis.url, { RUN_WORKERS: 'false' }, { scheduleCheckMs: 200 });
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    await until('the detection scheduler to be back', async () => (await node.ctx.queues.detectionSchedule()) !== null, 5000);
    expect((await ready(node)).body.detection_scheduler).toBe('present');
    // The retention prune's scheduler comes back with it (every catchup_prune_interval seconds).
    await until('the prune scheduler to be back', async () => (await node.ctx.queues.pruneSchedule()) !== null, 5000);
    expect(await node.ctx.queues.pruneSchedule()).toEqual({ every: 21_600_000 });
  });
});
