// Assembles one node from its configuration: engine (database, identity), inbound key, queues, workers
// (unless RUN_WORKERS=false), detection schedule, HTTP server.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisUnreachableError, type NodeConfig } from '@catchup/config';
import { onConnectionLost } from '@catchup/db';
import { openEngine } from '@catchup/engine';
import { createLogger, repeatedErrorLog, type Logger } from '@catchup/logger';
import { FaultLedger, NodeQueues } from '@catchup/queue';
import { runWorkers, type RunningWorkers } from '@catchup/jobs';
import type { FastifyInstance } from 'fastify';
import { resolveInboundKey, sha256 } from './api-key.ts';
import type { AppContext } from './context.ts';
import { keepDetectionScheduled, SCHEDULE_CHECK_MS, type DetectionSchedule } from './detection-schedule.ts';
import { buildServer } from './server.ts';

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningNode {
  ctx: AppContext;
  app: FastifyInstance;
  /** Where the API listens, e.g. http://127.0.0.1:5000 */
  url: string;
  /** Set when this start generated the inbound key (shown once). */
  generatedApiKey?: string;
  workers?: RunningWorkers;
  close(): Promise<void>;
}

/** Fails with the connection error (ECONNREFUSED…) when Redis does not answer, instead of retrying forever. */
export async function assertRedisReachable(redisUrl: string): Promise<void> {
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 5000 });
  let lastError: unknown;
  probe.on('error', (err) => (lastError = err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new RedisUnreachableError(lastError ?? err);
  } finally {
    probe.disconnect();
  }
}

export interface StartOptions {
  logger?: Logger;
  /** How often the detection scheduler in Redis is checked and put back if missing (tests shorten or lengthen it). */
  scheduleCheckMs?: number;
}

export async function startNode(config: NodeConfig, options: StartOptions = {}): Promise<RunningNode> {
  const logger = options.logger ?? createLogger({ name: config.nodeName, level: config.logLevel });
  const opened = await openEngine(config);
  try {
    await assertRedisReachable(config.redisUrl);
  } catch (err) {
    await opened.close();
    throw err;
  }
  const { engine } = opened;
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => {}); // reported by /ready, not as a crash
  const reportQueueError = repeatedErrorLog(logger, 'queue error');
  const queues = new NodeQueues({ redisUrl: config.redisUrl, prefix: config.queuePrefix, onError: (err) => reportQueueError(err) });
  const faults = new FaultLedger(config.redisUrl, config.queuePrefix);
  onConnectionLost(engine.pool, () => faults.record('database_connection_lost'));
  let workers: RunningWorkers | undefined;
  let schedule: DetectionSchedule | undefined;
  try {
    const key = await resolveInboundKey(engine.db, config.syncApiKey);
    const adminDigest = config.adminPassword ? sha256(config.adminPassword) : undefined;
    schedule = keepDetectionScheduled(queues, engine.settings, logger, options.scheduleCheckMs ?? SCHEDULE_CHECK_MS);
    const ctx: AppContext = {
      config,
      db: engine.db,
      pool: engine.pool,
      logger,
      engine,
      queues,
      faults,
      reschedule: schedule.reschedule,
      detectionScheduler: schedule.state,
      checkApiKey: key.check,
      // Bull Board's own password only (never the API key): without ADMIN_PASSWORD the board is off.
      checkAdmin: (user, password) =>
        adminDigest !== undefined && timingSafeEqual(sha256(user), sha256(config.adminUser)) && timingSafeEqual(sha256(password), adminDigest),
      redisReady: async () => {
        if (redis.status === 'wait' || redis.status === 'end') await redis.connect().catch(() => {});
        return (await redis.ping()) === 'PONG';
      },
      version,
    };
    await schedule.reschedule();
    if (config.runWorkers) {
      workers = runWorkers(config, engine, logger, faults);
    }
    const app = await buildServer(ctx);
    const address = await app.listen({ host: config.host, port: config.port });
    return {
      ctx,
      app,
      url: address.replace('0.0.0.0', '127.0.0.1'),
      ...(key.generated ? { generatedApiKey: key.generated } : {}),
      ...(workers ? { workers } : {}),
      async close() {
        schedule?.stop();
        await app.close();
        await workers?.close();
        await queues.close();
        faults.close();
        redis.disconnect();
        await opened.close();
      },
    };
  } catch (err) {
    schedule?.stop();
    await workers?.close().catch(() => {});
    await queues.close().catch(() => {});
    faults.close();
    redis.disconnect();
    await opened.close();
    throw err;
  }
}
