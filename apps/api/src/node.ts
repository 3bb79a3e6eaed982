// Assembles one node from its configuration: database, pools, identity, API key, engine, HTTP server.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { getNodeIdentity } from '@catchup/changelog';
import { loadRuntimeSettings, type NodeConfig } from '@catchup/config';
import { createDb, createPool } from '@catchup/db';
import type { EngineContext } from '@catchup/engine';
import { createLogger, type Logger } from '@catchup/logger';
import { PeerClient } from '@catchup/peer-client';
import type { FastifyInstance } from 'fastify';
import { resolveInboundKey } from './api-key.ts';
import type { AppContext } from './context.ts';
import { buildServer } from './server.ts';

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningNode {
  ctx: AppContext;
  app: FastifyInstance;
  /** Where the API listens, e.g. http://127.0.0.1:5000 */
  url: string;
  /** Set when this start generated the inbound key (shown once). */
  generatedApiKey?: string;
  close(): Promise<void>;
}

export async function startNode(config: NodeConfig, options: { logger?: Logger } = {}): Promise<RunningNode> {
  const logger = options.logger ?? createLogger({ name: config.nodeName, level: config.logLevel });
  const db = createDb(config.databaseUrl);
  const pool = createPool(config.databaseUrl);
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => {}); // reported by /ready, not as a crash
  try {
    await pool.query('SELECT 1');
    const identity = await getNodeIdentity(pool, config.nodeName);
    const key = await resolveInboundKey(db, config.syncApiKey);
    // Settings are read from sync_config on each use, so an update applies without a restart.
    const settings = () => loadRuntimeSettings(db, config.defaults);
    await settings(); // refuse to start on an invalid sync_config row
    const engine: EngineContext = {
      db,
      pool,
      nodeId: identity.nodeId,
      nodeName: config.nodeName,
      settings,
      peerClient: (peer, s) => new PeerClient(peer, { timeoutSeconds: s.catchup_connection_timeout }),
    };
    const ctx: AppContext = {
      config,
      db,
      pool,
      logger,
      engine,
      checkApiKey: key.check,
      redisReady: async () => {
        if (redis.status === 'wait' || redis.status === 'end') await redis.connect().catch(() => {});
        return (await redis.ping()) === 'PONG';
      },
      version,
    };
    const app = await buildServer(ctx);
    const address = await app.listen({ host: config.host, port: config.port });
    return {
      ctx,
      app,
      url: address.replace('0.0.0.0', '127.0.0.1'),
      ...(key.generated ? { generatedApiKey: key.generated } : {}),
      async close() {
        await app.close();
        redis.disconnect();
        await pool.end();
        await db.$disconnect();
      },
    };
  } catch (err) {
    redis.disconnect();
    await pool.end().catch(() => {});
    await db.$disconnect().catch(() => {});
    throw err;
  }
}
